import { systemClock, type Clock } from '../../../drivers/base/clock.js';
import { isPosError } from '../../../drivers/base/errors.js';
import { formatAge, formatDateTime } from '../format.js';
import type { QueueName } from '../terminal-port.js';
import { ansi, progressBar, renderMenu, type MenuItem, type Tty } from '../tty.js';
import type { DiagnosticsSession } from './session.js';

const MENU: readonly MenuItem[] = [
  { key: '1', label: 'Device info and live status' },
  { key: '2', label: 'Card-read test' },
  { key: '3', label: 'Test print' },
  { key: '4', label: 'Host echo test' },
  { key: '5', label: 'Queues (SAF, reversals, outbox, print) and forced drain' },
  { key: '6', label: 'Decline statistics' },
  { key: '7', label: 'Alerts' },
  { key: '8', label: 'Job history and run-now' },
  { key: '9', label: 'Log tail' },
  { key: 'l', label: 'Log level (until restart)' },
  { key: 'c', label: 'Configuration (secrets masked)' },
  { key: 'e', label: 'Export diagnostics bundle' },
  { key: 'x', label: 'Exit technician menu' },
];

/** Offered only on the terminal's own console: the remote menu cannot end the process it talks to. */
const SHUTDOWN_ITEM: MenuItem = { key: 's', label: 'Shut down terminal' };

/** How often the live status line of the device screen is redrawn. */
const LIVE_REFRESH_MS = 1000;

const QUEUE_KEYS: Record<string, QueueName> = { s: 'saf', r: 'reversals', o: 'outbox', p: 'print' };
const QUEUE_LABEL: Record<QueueName, string> = {
  saf: 'SAF (offline sales)',
  reversals: 'Reversals',
  outbox: 'Upstream outbox',
  print: 'Print queue',
};

export interface DiagnosticsMenuOptions {
  clock?: Clock;
  /** Screen title; says where the menu runs (the terminal itself, or a second shell). */
  where?: string;
  /** Redraws what the host screen keeps on row 1 (the cashier status line); the menu then starts on row 2. */
  header?: () => void;
  /**
   * Records the technician's shutdown (audited through the session); present only on the
   * terminal's own console. The menu then answers `shutdown` and the process ends.
   */
  shutDown?: () => Promise<void>;
}

/**
 * The technician's diagnostic menu: PIN first, then one screen per check. It only talks
 * to a `DiagnosticsSession`, so it is the same menu locally and over the control socket.
 */
export async function runDiagnosticsMenu(
  session: DiagnosticsSession,
  tty: Tty,
  options: DiagnosticsMenuOptions = {},
): Promise<'shutdown' | undefined> {
  const clock = options.clock ?? systemClock;
  const where = options.where ?? 'this terminal';
  const screen = (title: string) => {
    tty.write(`${ansi.clear}${ansi.moveTo(options.header ? 2 : 1)}`);
    options.header?.();
    tty.line(ansi.bold(`pos-companion - Technician - ${title}`));
    tty.line();
  };
  const done = async () => {
    tty.line();
    tty.write('Press any key. ');
    return tty.pause();
  };
  const fail = (err: unknown) => tty.line(`Error: ${isPosError(err) ? `${err.message} (${err.code})` : String(err)}`);

  screen(`PIN (${where})`);
  if (!(await login(session, tty, done))) return undefined;

  const menu = options.shutDown ? [...MENU.slice(0, -1), SHUTDOWN_ITEM, MENU.at(-1)!] : MENU;
  try {
    for (;;) {
      screen(where);
      for (const l of renderMenu(menu)) tty.line(l);
      tty.line();
      tty.write('Press a key. ');
      const key = await tty.choose(menu);
      if (key === null || key === 'x') return undefined;
      const item = menu.find((m) => m.key === key)!;
      screen(item.label);
      if (key === SHUTDOWN_ITEM.key && options.shutDown) {
        const confirm = await tty.readLine('Payments stop until the service starts it again. Enter to shut down, Esc to go back: ', {
          maxLength: 1,
        });
        if (confirm === null) continue;
        await options.shutDown();
        return 'shutdown';
      }
      let more = true;
      try {
        more = await SCREENS[key]!(session, tty, clock, done);
      } catch (err) {
        fail(err);
        more = await done();
      }
      if (!more) return undefined;
    }
  } finally {
    await session.logout().catch(() => undefined);
  }
}

async function login(session: DiagnosticsSession, tty: Tty, done: () => Promise<boolean>): Promise<boolean> {
  for (;;) {
    const pin = await tty.readLine('Technician PIN (Esc to go back): ', { mask: true, maxLength: 12 });
    if (pin === null) return false;
    let result;
    try {
      result = await session.login(pin);
    } catch (err) {
      tty.line(`Error: ${isPosError(err) ? err.message : String(err)}`);
      await done();
      return false;
    }
    if (result.ok) return true;
    if (result.reason === 'wrong-pin') {
      tty.line(`Wrong PIN. ${result.attemptsLeft} attempt(s) left before the menu locks.`);
      continue;
    }
    if (result.reason === 'locked') {
      tty.line(`Menu LOCKED after repeated wrong PINs. Try again in ${Math.ceil(result.lockedForMs / 1000)} s.`);
    } else {
      tty.line('No technician PIN is configured (diagnostics.pinHash); the menu stays closed.');
    }
    await done();
    return false;
  }
}

type Screen = (session: DiagnosticsSession, tty: Tty, clock: Clock, done: () => Promise<boolean>) => Promise<boolean>;

const SCREENS: Record<string, Screen> = {
  '1': async (s, tty, clock) => {
    const info = await s.deviceInfo();
    tty.line(`Terminal ${info.terminalId}  merchant ${info.merchantId}  version ${info.version}  node ${info.node}`);
    tty.line(`Uptime ${formatAge(info.uptimeSeconds * 1000)}  database schema v${info.schemaVersion}`);
    const r = info.reader;
    tty.line(
      `Reader   ${r.path}  ${r.error ? `info unavailable: ${r.error}` : `${r.vendor ?? ''} ${r.model ?? ''} s/n ${r.serial ?? ''} fw ${r.firmware ?? ''}`}`,
    );
    tty.line(`Printer  ${info.printer.path}`);
    tty.line(`Host     ${info.host.address}:${info.host.port}`);
    tty.line();
    tty.line('Live status (refreshed every second), any key to go back:');
    for (;;) {
      const st = await s.status();
      tty.write(`\r${ansi.clearLine}host ${st.host} | SAF ${st.safDepth} | printer ${st.printer} | reader ${st.reader}`);
      const key = await tty.keyWithin(LIVE_REFRESH_MS, clock);
      if (key) {
        tty.line();
        return key.name !== 'eof';
      }
    }
  },
  '2': async (s, tty, _clock, done) => {
    tty.line('Present a card to the reader...');
    const r = await s.cardReadTest();
    tty.line(r.ok ? `Card read OK: ${r.maskedPan ?? ''} (${r.entryMode ?? ''})` : `Card read FAILED: ${r.error ?? ''}`);
    return done();
  },
  '3': async (s, tty, _clock, done) => {
    tty.line('Printing a test page...');
    const r = await s.testPrint();
    tty.line(r.printed ? 'Test print OK.' : `Test print FAILED: ${r.error ?? ''}`);
    return done();
  },
  '4': async (s, tty, _clock, done) => {
    tty.line('Sending 0800 echo (301) to the host...');
    const r = await s.hostEcho();
    tty.line(
      r.ok
        ? `Host echo OK: response ${r.responseCode ?? ''}, round trip ${r.rttMs} ms`
        : `Host echo FAILED after ${r.rttMs} ms: ${r.error ?? ''}`,
    );
    return done();
  },
  '5': async (s, tty, clock) => {
    for (;;) {
      const queues = await s.queues();
      tty.line(`${'queue'.padEnd(22)}${'waiting'.padStart(8)}  oldest`);
      for (const q of queues) {
        tty.line(
          `${QUEUE_LABEL[q.name].padEnd(22)}${String(q.count).padStart(8)}  ${q.oldestAt === null ? '-' : formatAge(clock.now() - q.oldestAt)}`,
        );
      }
      tty.line();
      tty.line('Force a drain: [s] SAF  [r] reversals  [o] outbox  [p] print    [Esc] back');
      const key = await tty.choose(Object.keys(QUEUE_KEYS).map((k) => ({ key: k, label: '' })));
      if (key === null) return true;
      const queue = QUEUE_KEYS[key]!;
      tty.line(`Draining ${QUEUE_LABEL[queue]}...`);
      let shown = '';
      const result = await s.drain(queue, (p) => {
        const bar = progressBar(p.done, p.total);
        if (bar === shown) return;
        shown = bar;
        tty.write(`\r${ansi.clearLine}${bar}`);
      });
      tty.write(`\r${ansi.clearLine}${progressBar(result.done, result.total)}\n`);
      tty.line(
        result.remaining === 0
          ? `Drained: ${result.done} sent, queue empty.`
          : `Stopped with ${result.remaining} still waiting (${result.done} sent).`,
      );
      tty.line();
    }
  },
  '6': async (s, tty, _clock, done) => {
    const stats = await s.declineStats();
    if (stats.length === 0) tty.line('No declines recorded.');
    else {
      tty.line(`${'code'.padEnd(20)}${'count'.padStart(6)}  ${'category'.padEnd(9)} reason`);
      for (const d of stats) tty.line(`${d.code.padEnd(20)}${String(d.count).padStart(6)}  ${d.category.padEnd(9)} ${d.text}`);
    }
    return done();
  },
  '7': async (s, tty, _clock, done) => {
    const alerts = await s.alerts();
    if (alerts.length === 0) tty.line('No alerts.');
    for (const a of alerts) {
      tty.line(`${formatDateTime(a.raisedAt)}  ${a.severity.padEnd(8)} ${a.clearedAt === null ? 'OPEN   ' : 'cleared'}  ${a.message}`);
    }
    return done();
  },
  '8': async (s, tty, _clock, done) => {
    for (;;) {
      const { runs, names } = await s.jobs();
      if (runs.length === 0) tty.line('No job has run yet.');
      for (const r of runs) {
        tty.line(`${formatDateTime(r.startedAt)}  ${r.job.padEnd(16)} ${r.outcome.padEnd(8)} ${r.error ?? ''}`);
      }
      tty.line();
      if (names.length === 0) {
        tty.line('No scheduler on this terminal: jobs cannot be run from here.');
        return done();
      }
      const items = names.slice(0, 9).map((n, i) => ({ key: String(i + 1), label: `Run now: ${n}` }));
      for (const l of renderMenu(items)) tty.line(l);
      tty.line('  [Esc] back');
      const key = await tty.choose(items);
      if (key === null) return true;
      const name = names[Number(key) - 1]!;
      tty.line(`Running ${name}...`);
      tty.line(`${name}: ${await s.runJob(name)}`);
      tty.line();
    }
  },
  '9': async (s, tty, _clock, done) => {
    const lines = await s.logTail(Math.max(5, tty.rows - 8));
    if (lines.length === 0) tty.line('The log is empty or goes to stdout (journald).');
    for (const l of lines) tty.line(l);
    return done();
  },
  l: async (s, tty, _clock, done) => {
    const level = await tty.readLine('New level (fatal, error, warn, info, debug, trace, silent; Esc to go back): ', { maxLength: 8 });
    if (level === null) return true;
    tty.line(`Log level is now ${await s.setLogLevel(level.trim())} (the configuration file applies again after a restart).`);
    return done();
  },
  c: async (s, tty, _clock, done) => {
    for (const l of JSON.stringify(await s.config(), null, 2).split('\n')) tty.line(l);
    return done();
  },
  e: async (s, tty, _clock, done) => {
    tty.line('Collecting status, queues, statistics, alerts, jobs, masked configuration and log tail (no card data)...');
    const r = await s.exportBundle();
    tty.line(`Bundle written: ${r.path} (${r.bytes} bytes)`);
    return done();
  },
};
