import { CURRENCIES, isCurrencyCode } from '../core/money.js';
import { hostExpectation, isOfflineApproval, type TxnState, type TxnType } from '../payments/lifecycle.js';

/** What reconcile needs of a journal row (a `Transaction` is one). */
export interface JournalRecord {
  id: number;
  type: TxnType;
  state: TxnState;
  amount: number;
  /** ISO 4217 alpha code. */
  currency: string;
  stan: string | null;
}

export type PostingKind = 'sale' | 'refund' | 'void' | 'advice';

/** What reconcile needs of a host ledger entry (the simulator's `LedgerEntry` is one). */
export interface HostPosting {
  terminalId: string;
  stan: string;
  kind: PostingKind;
  amount: number;
  /** ISO 4217 numeric code (field 49). */
  currency: string;
  status: 'posted' | 'declined' | 'reversed' | 'voided';
}

export const MISMATCH_KINDS = ['duplicate', 'missing', 'extra', 'different-details', 'merchant-loss'] as const;

export type MismatchKind =
  /** Two host entries, or two terminal transactions, for one terminal + STAN + kind: money may move twice. */
  | 'duplicate'
  /** The terminal holds it as approved (or forwarded, or voided) but the host does not. */
  | 'missing'
  /** The host holds money the terminal does not consider taken, or has no record of at all. */
  | 'extra'
  /** Both sides have it, with a different amount, currency or kind. */
  | 'different-details'
  /** An offline approval the host refused (or that expired unsent): the goods are gone and the merchant is not paid. */
  | 'merchant-loss';

export interface Mismatch {
  kind: MismatchKind;
  stan: string;
  /** The message kind compared: what the terminal sent, or what the host recorded. */
  posting: PostingKind;
  transactionId: number | null;
  terminalState: TxnState | null;
  hostStatus: HostPosting['status'] | null;
  /** Minor units, of the terminal transaction when there is one, else of the host entry. */
  amount: number;
  /** ISO 4217 alpha code when known, else the host's numeric code. */
  currency: string;
  detail: string;
}

export interface ReconcileResult {
  /** No mismatch of any kind, merchant losses included. */
  clean: boolean;
  /** Terminal transactions looked at. */
  checked: number;
  /** Host entries of this terminal looked at. */
  hostEntries: number;
  mismatches: Mismatch[];
  counts: Record<MismatchKind, number>;
  /** Total merchant loss per currency (alpha code), minor units. */
  merchantLoss: Record<string, number>;
}

const moves = (p: HostPosting) => p.status === 'posted' && p.kind !== 'void';

function postingKindOf(txn: JournalRecord): PostingKind {
  return isOfflineApproval(txn.state) ? 'advice' : txn.type;
}

interface Group {
  stan: string;
  posting: PostingKind;
  terminal: JournalRecord[];
  host: HostPosting[];
}

/**
 * Groups both sides by terminal + STAN + kind, as multisets: two host entries with one key
 * are two entries, never one overwriting the other. A terminal transaction whose only host
 * counterpart carries another kind (a sale posted where an advice was due) is paired with it
 * so the difference reads as one, not as one missing and one extra.
 */
function group(journal: readonly JournalRecord[], ledger: readonly HostPosting[], terminalId: string): Group[] {
  const groups = new Map<string, Group>();
  const at = (stan: string, posting: PostingKind) => {
    const key = `${stan}|${posting}`;
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { stan, posting, terminal: [], host: [] }));
    return g;
  };
  for (const txn of journal) if (txn.stan !== null) at(txn.stan, postingKindOf(txn)).terminal.push(txn);
  for (const p of ledger) if (p.terminalId === terminalId) at(p.stan, p.kind).host.push(p);
  const all = [...groups.values()];
  for (const g of all) {
    if (g.host.length > 0 || g.terminal.length === 0) continue;
    const other = all.find((o) => o !== g && o.stan === g.stan && o.terminal.length === 0 && o.host.length > 0);
    if (!other) continue;
    g.host = other.host;
    other.host = [];
  }
  return all.filter((g) => g.terminal.length > 0 || g.host.length > 0);
}

function numericCurrency(alpha: string): string {
  return isCurrencyCode(alpha) ? CURRENCIES[alpha].numeric : alpha;
}

function differences(txn: JournalRecord, posting: PostingKind, host: HostPosting): string[] {
  const diffs: string[] = [];
  if (host.amount !== txn.amount) diffs.push(`amount ${txn.amount} vs ${host.amount}`);
  const numeric = numericCurrency(txn.currency);
  if (host.currency !== numeric) diffs.push(`currency ${numeric} vs ${host.currency}`);
  if (host.kind !== posting) diffs.push(`kind ${posting} vs ${host.kind}`);
  return diffs;
}

/**
 * Compares the terminal's journal with the host's ledger and lists every difference, in
 * five kinds: duplicates (one key held twice on either side), missing (the terminal took
 * the money, the host has no posting), extra (the host holds money the terminal does not
 * consider taken), different details (amount, currency or kind), and merchant losses
 * (offline approvals the host refused or that expired unsent, with their amounts).
 */
export function reconcile(journal: readonly JournalRecord[], ledger: readonly HostPosting[], terminalId: string): ReconcileResult {
  const mismatches: Mismatch[] = [];
  for (const g of group(journal, ledger, terminalId)) {
    const first = g.terminal[0];
    const base = (txn: JournalRecord | undefined, host: HostPosting | undefined) => ({
      stan: g.stan,
      posting: g.posting,
      transactionId: txn?.id ?? null,
      terminalState: txn?.state ?? null,
      hostStatus: host?.status ?? null,
      amount: txn?.amount ?? host?.amount ?? 0,
      currency: txn?.currency ?? host?.currency ?? '',
    });
    if (g.host.length > 1) {
      const detail = `host holds ${g.host.length} entries (${g.host.map((h) => `${h.status} ${h.amount}`).join(', ')})`;
      mismatches.push({ ...base(first, g.host[0]), kind: 'duplicate', detail });
    }
    if (g.terminal.length > 1) {
      const detail = `terminal holds ${g.terminal.length} transactions with this STAN (${g.terminal.map((t) => t.id).join(', ')})`;
      mismatches.push({ ...base(first, g.host[0]), kind: 'duplicate', detail });
    }
    if (g.terminal.length === 0) {
      for (const p of g.host.filter(moves)) {
        mismatches.push({
          ...base(undefined, p),
          kind: 'extra',
          detail: `host has a ${p.kind} of ${p.amount} the terminal has no record of`,
        });
      }
      continue;
    }
    for (const txn of g.terminal) checkOne(txn, g, base, mismatches);
  }
  const counts = Object.fromEntries(MISMATCH_KINDS.map((k) => [k, 0])) as Record<MismatchKind, number>;
  const merchantLoss: Record<string, number> = {};
  for (const m of mismatches) {
    counts[m.kind]++;
    if (m.kind === 'merchant-loss') merchantLoss[m.currency] = (merchantLoss[m.currency] ?? 0) + m.amount;
  }
  const hostEntries = ledger.filter((p) => p.terminalId === terminalId).length;
  return { clean: mismatches.length === 0, checked: journal.length, hostEntries, mismatches, counts, merchantLoss };
}

function checkOne(
  txn: JournalRecord,
  g: Group,
  base: (txn: JournalRecord, host: HostPosting | undefined) => Omit<Mismatch, 'kind' | 'detail'>,
  out: Mismatch[],
): void {
  // A void is "posted" when the host applied it, though a void moves no money itself.
  const applied = g.host.filter((p) => p.status === 'posted');
  const posted = g.host.filter(moves);
  const host = applied[0] ?? g.host[0];
  const at = base(txn, host);
  switch (hostExpectation(txn.state)) {
    case 'posted': {
      if (applied.length === 0) {
        out.push({ ...at, kind: 'missing', detail: `terminal says ${txn.state}, host ${host ? `has it ${host.status}` : 'has nothing'}` });
        return;
      }
      const diffs = differences(txn, g.posting, applied[0]!);
      if (diffs.length > 0) out.push({ ...at, kind: 'different-details', detail: diffs.join(', ') });
      return;
    }
    case 'not-posted':
      if (posted.length > 0) out.push({ ...at, kind: 'extra', detail: `terminal says ${txn.state}, host has it posted` });
      return;
    case 'voided':
      if (posted.length > 0) out.push({ ...at, kind: 'extra', detail: 'terminal voided it, host still has it posted' });
      return;
    case 'lost':
      if (posted.length > 0) {
        out.push({ ...at, kind: 'extra', detail: `terminal says ${txn.state}, host has it posted` });
        return;
      }
      out.push({
        ...at,
        kind: 'merchant-loss',
        detail:
          txn.state === 'expired'
            ? `offline approval of ${txn.amount} expired before the host took it`
            : `offline approval of ${txn.amount} refused by the host${host ? ` (${host.status})` : ''}`,
      });
      return;
    case 'unknown':
      return;
  }
}

export const EXIT_CLEAN = 0;
export const EXIT_MISMATCH = 1;
export const EXIT_USAGE = 2;
export const EXIT_MERCHANT_LOSS = 3;

/** The exit status a script reads: the books differing outranks a loss the books agree on. */
export function exitStatus(result: ReconcileResult): number {
  if (result.clean) return EXIT_CLEAN;
  return result.mismatches.some((m) => m.kind !== 'merchant-loss') ? EXIT_MISMATCH : EXIT_MERCHANT_LOSS;
}

/** One line per mismatch, for people. */
export function formatMismatch(m: Mismatch): string {
  return `STAN ${m.stan} ${m.posting}${m.transactionId === null ? '' : ` (transaction ${m.transactionId})`}: ${m.kind}: ${m.detail}`;
}
