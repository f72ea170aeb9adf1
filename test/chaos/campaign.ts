import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import type { IsoMessage } from '../../firmware-app/host/iso8583/packager.js';
import { formatMismatch, reconcile, type JournalRecord } from '../../firmware-app/reconcile/reconcile.js';
import type { HostAction } from '../../sim/host/host-sim.js';
import type { LedgerEntry } from '../../sim/host/ledger.js';
import { Simulator } from '../../sim/index.js';
import { TerminalProcess, writeSimConfig } from '../support/terminal-process.js';
import { planCampaign, planDigest, type KillTrigger, type PlannedSale } from './plan.js';

export interface CampaignOptions {
  seed: number;
  sales: number;
  kills: number;
  /** Progress lines (the CLI prints them; tests keep them for a failure message). */
  log?: (line: string) => void;
  /** How long the queues may take to empty after the last sale. */
  settleTimeoutMs?: number;
}

export interface CampaignReport {
  seed: number;
  /** The terminal's data folder (database, log, host ledger snapshot), kept for inspection. */
  dataDir: string;
  /** Fingerprint of the schedule the seed produced. */
  schedule: string;
  sales: number;
  kills: number;
  /** Final journal states of the sales. */
  approved: number;
  declined: number;
  offline: number;
  reversed: number;
  /** Started, then killed before the card was read or the host was asked: never left the terminal. */
  abandoned: number;
  /** Approvals the cashier saw on the console (online and offline). */
  cashierApprovals: number;
  /** A payment the host holds twice, a 0200 sent twice, or a STAN used by two payments. */
  duplicates: number;
  /** An approval the cashier saw that the journal or the host does not hold as posted or forwarded. */
  lost: number;
  /** Money the host holds that the terminal does not consider taken (a reversal missing or unacknowledged). */
  unreversed: number;
  /** Offline approvals the host refused, each one scripted by the campaign (an unscripted one is a problem). */
  merchantLosses: string[];
  /** Reconcile's findings and anything else that went wrong, one line each. */
  problems: string[];
  durationMs: number;
}

export function campaignPassed(r: CampaignReport): boolean {
  return r.duplicates === 0 && r.lost === 0 && r.unreversed === 0 && r.problems.length === 0;
}

export function formatReport(r: CampaignReport): string {
  return [
    `chaos campaign seed ${r.seed} (schedule ${r.schedule}) in ${(r.durationMs / 1000).toFixed(1)} s`,
    `  data ${r.dataDir}`,
    `  sales ${r.sales}  kills ${r.kills}`,
    `  approved ${r.approved}  declined ${r.declined}  offline ${r.offline}  reversed ${r.reversed}  abandoned ${r.abandoned}`,
    `  cashier saw ${r.cashierApprovals} approvals`,
    `  duplicates ${r.duplicates}  lost ${r.lost}  unreversed ${r.unreversed}`,
    `  merchant losses (scripted) ${r.merchantLosses.length}`,
    ...r.merchantLosses.map((m) => `  merchant loss: ${m}`),
    ...r.problems.map((p) => `  problem: ${p}`),
    campaignPassed(r) ? 'PASS' : `FAIL: reproduce with npm run chaos -- --kills ${r.kills} --sales ${r.sales} --seed ${r.seed}`,
  ].join('\n');
}

/** The repository root, from source (test/chaos) or from the build (dist/test/chaos). */
function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg) && (JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'pos-companion') return dir;
    const up = resolve(dir, '..');
    if (up === dir) throw new Error('pos-companion repository root not found');
    dir = up;
  }
}

const TERMINAL_ID = 'TERM0001';

export interface CashierApproval {
  txnId: number;
  stan: string;
  offline: boolean;
}

/**
 * The verdict, from what each side holds at the end: the journal, the host ledger, the
 * STANs of every 0200 the host received, and the approvals the cashier saw.
 */
export function assess(input: {
  journal: readonly JournalRecord[];
  ledger: readonly LedgerEntry[];
  sent0200: readonly string[];
  approvals: readonly CashierApproval[];
  /** Offline approvals the campaign made the host refuse (a hot-listed card during an outage). */
  scriptedLosses: ReadonlySet<number>;
}): { duplicates: number; lost: number; unreversed: number; merchantLosses: string[]; problems: string[] } {
  const { journal, ledger, approvals } = input;
  const problems: string[] = [];
  const merchantLosses: string[] = [];
  const result = reconcile(journal, ledger, TERMINAL_ID);
  for (const m of result.mismatches) {
    if (m.kind !== 'merchant-loss') problems.push(`reconcile: ${formatMismatch(m)}`);
    else if (m.transactionId !== null && input.scriptedLosses.has(m.transactionId)) merchantLosses.push(formatMismatch(m));
    else problems.push(`unscripted merchant loss: ${formatMismatch(m)}`);
  }

  // Duplicates: a 0200 STAN sent twice, a STAN held by two payments, a posting the terminal does not know.
  const tally = (values: Iterable<string>) => {
    const n = new Map<string, number>();
    for (const v of values) n.set(v, (n.get(v) ?? 0) + 1);
    return [...n.values()].filter((c) => c > 1).length;
  };
  const duplicates =
    tally(input.sent0200) +
    tally(journal.flatMap((r) => (r.stan ? [r.stan] : []))) +
    result.mismatches.filter((m) => m.kind === 'duplicate' || (m.kind === 'extra' && m.transactionId === null)).length;

  // Lost: every approval the cashier saw is in the journal and at the host, posted or forwarded.
  const byId = new Map(journal.map((r) => [r.id, r]));
  const entries = new Map(ledger.filter((e) => e.terminalId === TERMINAL_ID).map((e) => [e.stan, e]));
  let lost = 0;
  for (const a of approvals) {
    const row = byId.get(a.txnId);
    const entry = entries.get(a.stan);
    const ok = a.offline
      ? row?.stan === a.stan && (row.state === 'forwarded_approved' || row.state === 'forwarded_declined') && entry?.kind === 'advice'
      : row?.stan === a.stan && row.state === 'approved' && entry?.status === 'posted' && entry.kind === 'sale';
    if (!ok) {
      lost++;
      problems.push(
        `approval lost: transaction ${a.txnId} STAN ${a.stan} (${a.offline ? 'offline' : 'online'}): journal ${row?.state ?? 'missing'}, host ${entry?.status ?? 'missing'}`,
      );
    }
  }
  lost += result.mismatches.filter((m) => m.kind === 'missing' && !approvals.some((a) => a.txnId === m.transactionId)).length;
  const unreversed =
    result.mismatches.filter((m) => m.kind === 'extra' && m.transactionId !== null).length +
    journal.filter((r) => r.state === 'reversal_pending').length;
  return { duplicates, lost, unreversed, merchantLosses, problems };
}

const FLOOR_LIMIT = 6_000;
const RESPONSE_TIMEOUT_MS = 1_000;

const APPROVED = /(?:^|\n)(?:> )?APPROVED auth \S+ RRN \d+ STAN (\d{6}) \(transaction (\d+)\)/;
const APPROVED_OFFLINE = /(?:^|\n)(?:> )?APPROVED OFFLINE auth \S+ STAN (\d{6}) \(transaction (\d+)\)/;
const DECLINED = /(?:^|\n)(?:> )?DECLINED: [^\n]*\(transaction (\d+)\)/;
const ERROR = /(?:^|\n)(?:> )?Error: ([^\n]*)/;

const alive = (t: TerminalProcess) => t.child.exitCode === null && t.child.signalCode === null;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function hostAction(sale: PlannedSale): HostAction {
  switch (sale.fault) {
    case 'decline':
      return { type: 'decline', code: sale.declineCode };
    case 'drop':
      return { type: 'drop' };
    case 'slow':
      return { type: 'delay', ms: RESPONSE_TIMEOUT_MS + 700 };
    case 'close-mid-frame':
      return { type: 'close-mid-frame' };
    case 'duplicate':
      return { type: 'duplicate' };
    case 'garbage':
      return { type: 'garbage' };
    default:
      return { type: 'approve' };
  }
}

function matchesTrigger(trigger: KillTrigger, mti: string): boolean {
  switch (trigger) {
    case '0200':
    case 'after-0210':
      return mti === '0200';
    case '0220':
      return mti === '0220' || mti === '0221';
    case '0400':
      return mti === '0400' || mti === '0401';
    case 'delay':
      return false;
  }
}

/**
 * The crash campaign: sales through the built terminal process against the simulator,
 * with host and serial faults and SIGKILLs at chosen moments, a restart after each kill,
 * then a settle (host healthy until every reversal is acknowledged and the SAF queue is
 * empty) and the reconciliation of the journal against the host ledger.
 */
export async function runCampaign(options: CampaignOptions): Promise<CampaignReport> {
  const started = Date.now();
  const log = options.log ?? (() => undefined);
  const plan = planCampaign(options.seed, options.sales, options.kills);
  const schedule = planDigest(plan);
  log(`chaos: seed ${options.seed}, ${options.sales} sales, ${options.kills} kills, schedule ${schedule}`);

  const root = repoRoot();
  const main = join(root, 'dist', 'firmware-app', 'main.js');
  const sim = await Simulator.start({ tapDelayMs: 5 });
  const { configPath, dataDir } = writeSimConfig(sim, {
    host: {
      responseTimeoutMs: RESPONSE_TIMEOUT_MS,
      connectTimeoutMs: 1_000,
      reconnectMinMs: 50,
      reconnectMaxMs: 300,
      reversalTimeoutMs: 1_500,
      reversalBackoffMinMs: 100,
      reversalBackoffMaxMs: 1_000,
    },
    offline: { floorLimit: FLOOR_LIMIT },
    saf: { responseTimeoutMs: 1_500, backoffMinMs: 100, backoffMaxMs: 1_000 },
    log: { level: 'info' },
  });
  const dbFile = join(dataDir, 'pos-companion.db');
  log(`chaos: terminal data (database, log) in ${dataDir}`);
  const problems: string[] = [];
  const approvals: CashierApproval[] = [];
  const scriptedLosses = new Set<number>();
  let kills = 0;
  let terminal: TerminalProcess | undefined;
  let armed: { trigger: KillTrigger; fire: () => void } | undefined;

  sim.host.onRequest((msg: IsoMessage) => {
    const a = armed;
    if (!a || !matchesTrigger(a.trigger, msg.mti)) return;
    // Synchronously: the host has the request but has not processed or answered it yet.
    if (a.trigger === 'after-0210') setImmediate(a.fire);
    else a.fire();
  });

  async function startTerminal(): Promise<TerminalProcess> {
    const t = new TerminalProcess([main, '--config', configPath], {}, { command: process.execPath, cwd: root });
    const deadline = Date.now() + 60_000;
    while (!/pos-companion ready/.test(t.stdout)) {
      if (!alive(t)) throw new Error(`terminal exited during start-up:\n${t.stderr}`);
      if (Date.now() > deadline) throw new Error(`terminal not ready after 60 s:\n${t.stdout}\n${t.stderr}`);
      await sleep(20);
    }
    return t;
  }

  function query<T>(sql: string): T[] {
    const db = new Database(dbFile, { readonly: true, fileMustExist: true });
    try {
      return db.prepare(sql).all() as T[];
    } finally {
      db.close();
    }
  }

  try {
    terminal = await startTerminal();
    let outageLeft = 0;
    for (const sale of plan) {
      const t: TerminalProcess = terminal;
      if (sale.fault === 'host-outage' && outageLeft === 0 && sim.host.listening) {
        await sim.host.stop();
        outageLeft = sale.outageSales;
      }
      sim.host.defaultAction = hostAction(sale);
      if (sale.fault === 'reader-corrupt') sim.reader.corruptAnswers(1);
      if (sale.fault === 'hot-card') sim.reader.presentCard('mc-hotlisted');
      if (sale.fault === 'paper-out') sim.printer.setPaperOut(true);

      let killed = false;
      let fallback: NodeJS.Timeout | undefined;
      if (sale.kill) {
        const kill = sale.kill;
        const fire = () => {
          if (armed?.fire !== fire) return;
          armed = undefined;
          clearTimeout(fallback);
          if (alive(t)) {
            t.child.kill('SIGKILL');
            killed = true;
          }
        };
        armed = { trigger: kill.trigger, fire };
        // A trigger that never comes (no SAF traffic, host down) still kills, at the planned delay.
        const wait = kill.trigger === '0200' || kill.trigger === 'after-0210' ? 5_000 + kill.delayMs : kill.delayMs;
        fallback = setTimeout(fire, wait);
      }

      const from = t.stdout.length;
      t.type((sale.amount / 100).toFixed(2));
      const deadline = Date.now() + 60_000;
      let out = '';
      for (;;) {
        out = t.stdout.slice(from);
        if (!alive(t) || APPROVED.test(out) || APPROVED_OFFLINE.test(out) || DECLINED.test(out) || ERROR.test(out)) break;
        if (Date.now() > deadline) {
          problems.push(`sale ${sale.index}: no outcome within 60 s (hung?)`);
          break;
        }
        await sleep(10);
      }
      // An armed kill that has not fired yet lands now, between this sale and the next.
      while (armed) await sleep(10);
      out = t.stdout.slice(from);
      const online = out.match(APPROVED);
      const offline = out.match(APPROVED_OFFLINE);
      if (online) approvals.push({ stan: online[1]!, txnId: Number(online[2]), offline: false });
      else if (offline) {
        approvals.push({ stan: offline[1]!, txnId: Number(offline[2]), offline: true });
        if (sale.fault === 'hot-card') scriptedLosses.add(Number(offline[2]));
      } else if (!DECLINED.test(out) && alive(t)) {
        const err = out.match(ERROR);
        problems.push(`sale ${sale.index}: ${err ? `error "${err[1]}"` : 'no outcome'}`);
      }
      if (killed || !alive(t)) {
        await new Promise<void>((r) => (t.child.exitCode !== null || t.child.signalCode !== null ? r() : t.child.once('exit', () => r())));
        kills++;
        terminal = await startTerminal();
      }
      sim.host.defaultAction = { type: 'approve' };
      if (sale.fault === 'paper-out') sim.printer.setPaperOut(false);
      if (outageLeft > 0 && --outageLeft === 0) await sim.host.start();
      if ((sale.index + 1) % 50 === 0)
        log(`chaos: ${sale.index + 1}/${plan.length} sales, ${kills} kills, ${approvals.length} approvals seen`);
    }

    // Settle: host and printer healthy, until nothing is waiting for them any more (every slip printed too).
    if (!sim.host.listening) await sim.host.start();
    const settleDeadline = Date.now() + (options.settleTimeoutMs ?? 180_000);
    const waiting = () =>
      query<{ n: number }>(
        `SELECT (SELECT count(*) FROM transactions WHERE state IN ('online_sent', 'reversal_pending', 'void_pending', 'offline_approved'))
              + (SELECT count(*) FROM saf_queue WHERE state = 'queued')
              + (SELECT count(*) FROM reversals WHERE state = 'pending')
              + (SELECT count(*) FROM print_jobs WHERE state != 'printed') AS n`,
      )[0]!.n;
    let left = waiting();
    while (left > 0 && Date.now() < settleDeadline) {
      await sleep(250);
      left = waiting();
    }
    if (left > 0) problems.push(`${left} payments, queue items or slips still waiting after the settle period`);
    log(`chaos: settled, ${left} items waiting`);
    const last = terminal;
    last.type('q');
    const quit = await Promise.race([new Promise<boolean>((r) => last.child.once('exit', () => r(true))), sleep(30_000).then(() => false)]);
    if (!quit && alive(last)) problems.push('terminal did not quit within 30 s');
  } finally {
    armed = undefined;
    if (terminal && alive(terminal)) await terminal.kill();
    await sim.stop();
  }

  // Kept for a person to replay: npm run reconcile -- --db <dataDir>/pos-companion.db --ledger <dataDir>/ledger.json
  sim.host.writeLedger(join(dataDir, 'ledger.json'));
  const journal = query<JournalRecord>(`SELECT id, type, state, amount, currency, stan FROM transactions ORDER BY id`);

  const sent0200 = sim.host.received.filter((r) => r.message.mti === '0200').map((r) => String(r.message.fields.get(11)));
  const findings = assess({ journal, ledger: sim.host.ledger.all(), sent0200, approvals, scriptedLosses });
  problems.push(...findings.problems);
  const { duplicates, lost, unreversed, merchantLosses } = findings;

  const count = (...states: string[]) => journal.filter((r) => r.type === 'sale' && states.includes(r.state)).length;
  return {
    seed: options.seed,
    dataDir,
    schedule,
    sales: options.sales,
    kills,
    approved: count('approved'),
    declined: count('declined', 'declined_local'),
    offline: count('offline_approved', 'forwarded_approved', 'forwarded_declined', 'expired'),
    reversed: count('reversed'),
    abandoned: count('created', 'card_read'),
    cashierApprovals: approvals.length,
    duplicates,
    lost,
    unreversed,
    merchantLosses,
    problems,
    durationMs: Date.now() - started,
  };
}
