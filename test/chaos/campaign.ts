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
import { checkConsole, type ConsoleOutcome } from './console-check.js';
import { OFFLINE_FLOOR_LIMIT, planCampaign, planDigest, TRIGGERS, type KillTrigger, type PlannedSale } from './plan.js';

export interface CampaignOptions {
  seed: number;
  sales: number;
  kills: number;
  /** Progress lines (the CLI prints them; tests keep them for a failure message). */
  log?: (line: string) => void;
  /** How long the queues may take to empty after the last sale. */
  settleTimeoutMs?: number;
  /** The script run as the terminal (default: the built `dist/firmware-app/main.js`). */
  entry?: string;
}

export interface CampaignReport {
  seed: number;
  /** The terminal's data folder (database, log, host ledger snapshot), kept for inspection. */
  dataDir: string;
  /** Fingerprint of the schedule the seed produced. */
  schedule: string;
  sales: number;
  /** Kills that took the terminal down (each followed by a restart). */
  kills: number;
  /** Per kill point: how many the schedule planned and how many fired on their message. */
  killsByPoint: Record<KillTrigger, { planned: number; fired: number }>;
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
    `  kill point    planned  fired`,
    ...Object.entries(r.killsByPoint).map(
      ([point, k]) => `  ${point.padEnd(12)}  ${String(k.planned).padStart(7)}  ${String(k.fired).padStart(5)}`,
    ),
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

const RESPONSE_TIMEOUT_MS = 1_000;

const APPROVED = /(?:^|\n)(?:> )?APPROVED auth \S+ RRN \d+ STAN (\d{6}) \(transaction (\d+)\)/;
const APPROVED_OFFLINE = /(?:^|\n)(?:> )?APPROVED OFFLINE auth \S+ STAN (\d{6}) \(transaction (\d+)\)/;
const DECLINED = /(?:^|\n)(?:> )?DECLINED: [^\n]*\(transaction (\d+)\)/;
const NOT_COMPLETED = /(?:^|\n)(?:> )?NOT COMPLETED: [^\n]*\(transaction (\d+)\)/;
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
    case 'mid-commit':
      return false;
  }
}

/** The last lines of the terminal's log and stderr, for a report on a terminal that ended by itself. */
function tail(dataDir: string, t: TerminalProcess, lines = 15): string {
  const log = join(dataDir, 'pos-companion.log');
  const text = existsSync(log) ? readFileSync(log, 'utf8') : '';
  return [...text.trimEnd().split('\n').slice(-lines), ...t.stderr.trimEnd().split('\n').slice(-5)].filter(Boolean).join('\n    ');
}

/**
 * The crash campaign: sales through the built terminal process against the simulator,
 * with host and serial faults and SIGKILLs armed on real protocol messages, a restart after
 * each kill, then a settle (host healthy until every reversal is acknowledged and the SAF
 * queue is empty) and the reconciliation of the journal against the host ledger. A kill
 * that never found its message, or a terminal that ended without being killed, fails the run.
 */
export async function runCampaign(options: CampaignOptions): Promise<CampaignReport> {
  const started = Date.now();
  const log = options.log ?? (() => undefined);
  const plan = planCampaign(options.seed, options.sales, options.kills);
  const schedule = planDigest(plan);
  log(`chaos: seed ${options.seed}, ${options.sales} sales, ${options.kills} kills, schedule ${schedule}`);

  const root = repoRoot();
  const main = options.entry ?? join(root, 'dist', 'firmware-app', 'main.js');
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
    offline: { floorLimit: OFFLINE_FLOOR_LIMIT },
    saf: { responseTimeoutMs: 1_500, backoffMinMs: 100, backoffMaxMs: 1_000 },
    log: { level: 'info' },
  });
  const dbFile = join(dataDir, 'pos-companion.db');
  log(`chaos: terminal data (database, log) in ${dataDir}`);
  const problems: string[] = [];
  const approvals: CashierApproval[] = [];
  const outcomes: ConsoleOutcome[] = [];
  const scriptedLosses = new Set<number>();
  const killsByPoint = Object.fromEntries(TRIGGERS.map((k) => [k, { planned: 0, fired: 0 }])) as CampaignReport['killsByPoint'];
  for (const sale of plan) if (sale.kill) killsByPoint[sale.kill.trigger].planned++;
  let kills = 0;
  let terminal: TerminalProcess | undefined;
  let armed: { trigger: KillTrigger; sale: number } | undefined;
  let killPending = false;

  const fire = (trigger: KillTrigger) => {
    if (armed?.trigger !== trigger) return;
    armed = undefined;
    killsByPoint[trigger].fired++;
    if (terminal && alive(terminal)) {
      killPending = true;
      terminal.child.kill('SIGKILL');
    }
  };
  sim.host.on('request', (msg: IsoMessage) => {
    const a = armed;
    if (!a || !matchesTrigger(a.trigger, msg.mti)) return;
    // Synchronously: the host has the request but has not processed or answered it yet;
    // on the next turn its 0210 has left.
    if (a.trigger === 'after-0210') setImmediate(() => fire('after-0210'));
    else fire(a.trigger);
  });

  /** A terminal that is gone: restarted if a kill took it, otherwise the run stops with its exit status and log tail. */
  async function recover(t: TerminalProcess, where: string): Promise<boolean> {
    await new Promise<void>((r) => (t.child.exitCode !== null || t.child.signalCode !== null ? r() : t.child.once('exit', () => r())));
    if (!killPending) {
      problems.push(
        `terminal exited by itself ${where} (status ${t.child.exitCode}, signal ${t.child.signalCode}); log tail:\n    ${tail(dataDir, t)}`,
      );
      return false;
    }
    killPending = false;
    kills++;
    return startTerminal();
  }

  async function startTerminal(): Promise<boolean> {
    const t = new TerminalProcess([main, '--config', configPath], {}, { command: process.execPath, cwd: root });
    terminal = t;
    const deadline = Date.now() + 60_000;
    while (!/pos-companion ready/.test(t.stdout)) {
      if (!alive(t)) return recover(t, 'during start-up');
      if (Date.now() > deadline) throw new Error(`terminal not ready after 60 s:\n${t.stdout}\n${t.stderr}`);
      await sleep(20);
    }
    return true;
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
    let running = await startTerminal();
    let outageLeft = 0;
    for (const sale of plan) {
      if (!running) break;
      const t = terminal!;
      if (sale.fault === 'host-outage' && outageLeft === 0 && sim.host.listening) {
        await sim.host.stop();
        outageLeft = sale.outageSales;
      }
      sim.host.defaultAction = hostAction(sale);
      if (sale.fault === 'reader-corrupt') sim.reader.corruptAnswers(1);
      if (sale.fault === 'hot-card') sim.reader.presentCard('mc-hotlisted');
      if (sale.fault === 'paper-out') sim.printer.setPaperOut(true);
      if (sale.kill?.trigger === '0400' && !sim.host.listening) {
        // A reversal needs the host: the outage ends before this sale, once the terminal has signed on again.
        const signOns = sim.host.received.filter((r) => r.message.mti === '0800').length;
        await sim.host.start();
        outageLeft = 0;
        const until = Date.now() + 10_000;
        while (sim.host.received.filter((r) => r.message.mti === '0800').length === signOns && Date.now() < until) await sleep(20);
      }
      if (sale.kill) {
        if (armed) problems.push(`kill planned at sale ${armed.sale} (${armed.trigger}) never fired before sale ${sale.index}`);
        armed = { trigger: sale.kill.trigger, sale: sale.index };
      }

      const from = t.stdout.length;
      t.type((sale.amount / 100).toFixed(2));
      if (sale.kill?.trigger === 'mid-commit') setTimeout(() => fire('mid-commit'), sale.kill.delayMs);
      const deadline = Date.now() + 60_000;
      let out = '';
      for (;;) {
        out = t.stdout.slice(from);
        if (
          !alive(t) ||
          APPROVED.test(out) ||
          APPROVED_OFFLINE.test(out) ||
          DECLINED.test(out) ||
          NOT_COMPLETED.test(out) ||
          ERROR.test(out)
        )
          break;
        if (Date.now() > deadline) {
          problems.push(`sale ${sale.index}: no outcome within 60 s (hung?)`);
          break;
        }
        await sleep(10);
      }
      // A mid-commit kill that has not fired yet lands now, between this sale and the next.
      while (armed?.trigger === 'mid-commit') await sleep(10);
      out = t.stdout.slice(from);
      const online = out.match(APPROVED);
      const offline = out.match(APPROVED_OFFLINE);
      const declined = out.match(DECLINED);
      const notCompleted = out.match(NOT_COMPLETED);
      if (online) {
        approvals.push({ stan: online[1]!, txnId: Number(online[2]), offline: false });
        outcomes.push({ sale: sale.index, amount: sale.amount, outcome: 'approved', txnId: Number(online[2]) });
      } else if (offline) {
        approvals.push({ stan: offline[1]!, txnId: Number(offline[2]), offline: true });
        outcomes.push({ sale: sale.index, amount: sale.amount, outcome: 'offline', txnId: Number(offline[2]) });
        if (sale.fault === 'hot-card') scriptedLosses.add(Number(offline[2]));
      } else if (declined) {
        outcomes.push({ sale: sale.index, amount: sale.amount, outcome: 'declined', txnId: Number(declined[1]) });
      } else if (notCompleted) {
        outcomes.push({ sale: sale.index, amount: sale.amount, outcome: 'not-completed', txnId: Number(notCompleted[1]) });
      } else if (alive(t)) {
        const err = out.match(ERROR);
        problems.push(`sale ${sale.index}: ${err ? `error "${err[1]}"` : 'no outcome'}`);
      }
      if (!alive(t)) running = await recover(t, `at sale ${sale.index}`);
      sim.host.defaultAction = { type: 'approve' };
      if (sale.fault === 'paper-out') sim.printer.setPaperOut(false);
      if (outageLeft > 0 && --outageLeft === 0) await sim.host.start();
      if ((sale.index + 1) % 50 === 0)
        log(`chaos: ${sale.index + 1}/${plan.length} sales, ${kills} kills, ${approvals.length} approvals seen`);
    }

    // Settle: host and printer healthy, until nothing is waiting for them any more (every slip printed too).
    // A kill still armed (an advice or a reversal not yet sent) may land here too.
    if (!sim.host.listening) await sim.host.start();
    const settleDeadline = Date.now() + (options.settleTimeoutMs ?? 180_000);
    const waiting = () =>
      query<{ n: number }>(
        `SELECT (SELECT count(*) FROM transactions WHERE state IN ('online_sent', 'reversal_pending', 'void_pending', 'offline_approved'))
              + (SELECT count(*) FROM saf_queue WHERE state = 'queued')
              + (SELECT count(*) FROM reversals WHERE state = 'pending')
              + (SELECT count(*) FROM print_jobs WHERE state != 'printed') AS n`,
      )[0]!.n;
    let left = running ? waiting() : 0;
    while (running && left > 0 && Date.now() < settleDeadline) {
      await sleep(250);
      if (!alive(terminal!)) running = await recover(terminal!, 'while the queues drained');
      left = waiting();
    }
    if (left > 0) problems.push(`${left} payments, queue items or slips still waiting after the settle period`);
    if (armed) problems.push(`kill planned at sale ${armed.sale} (${armed.trigger}) never fired: its message never came`);
    armed = undefined;
    log(`chaos: settled, ${left} items waiting`);
    const last = terminal!;
    if (running) {
      last.type('q');
      const quit = await Promise.race([
        new Promise<boolean>((r) => last.child.once('exit', () => r(true))),
        sleep(30_000).then(() => false),
      ]);
      if (!quit && alive(last)) problems.push('terminal did not quit within 30 s');
      else if (last.child.exitCode !== 0)
        problems.push(`terminal quit with status ${last.child.exitCode}; log tail:\n    ${tail(dataDir, last)}`);
    }
  } finally {
    armed = undefined;
    if (terminal && alive(terminal)) await terminal.kill();
    await sim.stop();
  }
  for (const [point, k] of Object.entries(killsByPoint))
    if (k.planned > 0 && k.fired === 0) problems.push(`kill point ${point}: ${k.planned} planned, none fired`);

  // Kept for a person to replay: npm run reconcile -- --db <dataDir>/pos-companion.db --ledger <dataDir>/ledger.json
  sim.host.writeLedger(join(dataDir, 'ledger.json'));
  const journal = query<JournalRecord>(`SELECT id, type, state, amount, currency, stan FROM transactions ORDER BY id`);

  const sent0200 = sim.host.received.filter((r) => r.message.mti === '0200').map((r) => String(r.message.fields.get(11)));
  const findings = assess({ journal, ledger: sim.host.ledger.all(), sent0200, approvals, scriptedLosses });
  problems.push(...findings.problems, ...checkConsole(journal, outcomes));
  const { duplicates, lost, unreversed, merchantLosses } = findings;

  const count = (...states: string[]) => journal.filter((r) => r.type === 'sale' && states.includes(r.state)).length;
  return {
    seed: options.seed,
    dataDir,
    schedule,
    sales: options.sales,
    kills,
    killsByPoint,
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
