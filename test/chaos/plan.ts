/**
 * The campaign's schedule, a pure function of the seed: which sale meets which fault and
 * where each kill is armed. The same seed always yields the same schedule (its digest is
 * printed), so a failing run is replayed with `--seed`.
 */

/** mulberry32: small, fast, and identical on every platform. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export type SaleFault =
  | 'none'
  /** The host answers field 39 = 51 or 05. */
  | 'decline'
  /** The host posts the sale and loses the answer. */
  | 'drop'
  /** The host answers after the terminal's response timeout. */
  | 'slow'
  /** Half the answer, then the connection closes. */
  | 'close-mid-frame'
  | 'duplicate'
  | 'garbage'
  /** The reader's answer leaves with a bad checksum once (retransmitted). */
  | 'reader-corrupt'
  /** The host stops listening for the next few sales (offline approvals queue up). */
  | 'host-outage'
  /** The hot-listed card: declined online, or approved offline and declined as an advice. */
  | 'hot-card'
  /** The printer runs out of paper for this sale; its slips wait in the print queue until the refill. */
  | 'paper-out';

/**
 * Where a kill lands, each armed on the real message and never replaced by a timer: as the
 * host receives a 0200, as its 0210 leaves, as it receives a 0220/0221 or a 0400/0401; or
 * mid-commit, 0 to 400 ms after the amount was typed (card read, the commits before the
 * 0200, printing), the one point that is a delay by nature.
 */
export type KillTrigger = '0200' | 'after-0210' | '0220' | '0400' | 'mid-commit';

/** The campaign's offline floor limit (minor units): sales up to it are approved offline during an outage. */
export const OFFLINE_FLOOR_LIMIT = 6_000;

export interface PlannedSale {
  index: number;
  amount: number;
  fault: SaleFault;
  /** For a host outage: how many sales it lasts. */
  outageSales: number;
  declineCode: string;
  kill?: { trigger: KillTrigger; delayMs: number };
}

const FAULTS: [SaleFault, number][] = [
  ['none', 63],
  ['decline', 8],
  ['drop', 3],
  ['slow', 3],
  ['close-mid-frame', 3],
  ['duplicate', 4],
  ['garbage', 4],
  ['reader-corrupt', 4],
  ['host-outage', 3],
  ['hot-card', 2],
  ['paper-out', 3],
];

export const TRIGGERS: readonly KillTrigger[] = ['0200', 'after-0210', '0220', '0400', 'mid-commit'];

function pick<T>(random: () => number, weighted: [T, number][]): T {
  const total = weighted.reduce((s, [, w]) => s + w, 0);
  let r = random() * total;
  for (const [value, w] of weighted) {
    r -= w;
    if (r < 0) return value;
  }
  return weighted[weighted.length - 1]![0];
}

export function planCampaign(seed: number, sales: number, kills: number): PlannedSale[] {
  if (kills > sales) throw new RangeError(`cannot arm ${kills} kills over ${sales} sales`);
  const random = prng(seed);
  const plan: PlannedSale[] = [];
  for (let i = 0; i < sales; i++) {
    plan.push({
      index: i,
      // 1.00 .. 120.00: some over the offline floor limit, so outages also decline locally.
      amount: 100 + Math.floor(random() * 11_900),
      fault: pick(random, FAULTS),
      outageSales: 2 + Math.floor(random() * 5),
      declineCode: random() < 0.5 ? '51' : '05',
    });
  }
  // Kills spread over the whole run: one in each of `kills` equal slices, at a random sale in it,
  // the points taken in turn so every one is planned. The sale carrying a kill gets the fault
  // that makes its message happen: a lost answer for a 0400 (the timeout sends the reversal),
  // an outage with an amount under the floor limit for a 0220 (the advice goes when the host returns).
  const first = Math.floor(random() * TRIGGERS.length);
  for (let k = 0; k < kills; k++) {
    const from = Math.floor((k * sales) / kills);
    const to = Math.floor(((k + 1) * sales) / kills);
    const at = plan[from + Math.floor(random() * (to - from))]!;
    const trigger = TRIGGERS[(first + k) % TRIGGERS.length]!;
    at.kill = { trigger, delayMs: Math.floor(random() * 400) };
    if (trigger === '0400') at.fault = 'drop';
    if (trigger === '0220') {
      at.fault = 'host-outage';
      at.amount = 100 + (at.amount % (OFFLINE_FLOOR_LIMIT - 100));
    }
  }
  return plan;
}

/** A short fingerprint of a schedule, printed so two runs can be seen to share one. */
export function planDigest(plan: readonly PlannedSale[]): string {
  let h = 0x811c9dc5;
  const text = plan
    .map((p) => `${p.amount}:${p.fault}:${p.outageSales}:${p.declineCode}:${p.kill ? `${p.kill.trigger}@${p.kill.delayMs}` : ''}`)
    .join('|');
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h.toString(16).padStart(8, '0');
}
