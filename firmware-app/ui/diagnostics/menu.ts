import { systemClock, type Clock } from '../../../drivers/base/clock.js';
import { isPosError } from '../../../drivers/base/errors.js';
import { explain } from '../../declines/catalog.js';
import { stateWord, t, type Language, type TextKey } from '../cashier/strings.js';
import { categoryWord } from '../cashier/words.js';
import { displayWidth } from '../../receipts/width.js';
import { formatAge, formatDateTime } from '../format.js';
import type { QueueName } from '../terminal-port.js';
import { ansi, progressBar, renderMenu, type MenuItem, type Tty } from '../tty.js';
import type { DiagnosticsSession } from './session.js';

const MENU: readonly { key: string; text: TextKey }[] = [
  { key: '1', text: 'tech-device' },
  { key: '2', text: 'tech-card-test' },
  { key: '3', text: 'tech-test-print' },
  { key: '4', text: 'tech-echo' },
  { key: '5', text: 'tech-queues' },
  { key: '6', text: 'tech-decline-stats' },
  { key: '7', text: 'tech-alerts' },
  { key: '8', text: 'tech-jobs' },
  { key: '9', text: 'tech-log' },
  { key: 'l', text: 'tech-log-level' },
  { key: 'c', text: 'tech-config' },
  { key: 'e', text: 'tech-export' },
  { key: 'x', text: 'tech-exit' },
];

/** Offered only on the terminal's own console: the remote menu cannot end the process it talks to. */
const SHUTDOWN_ITEM = { key: 's', text: 'tech-shutdown' } as const;

/** How often the live status line of the device screen is redrawn. */
const LIVE_REFRESH_MS = 1000;

const QUEUE_KEYS: Record<string, QueueName> = { s: 'saf', r: 'reversals', o: 'outbox', p: 'print' };
const QUEUE_LABEL: Record<QueueName, TextKey> = {
  saf: 'tech-queue-saf',
  reversals: 'tech-queue-reversals',
  outbox: 'tech-queue-outbox',
  print: 'tech-queue-print',
};

export interface DiagnosticsMenuOptions {
  clock?: Clock;
  /** The language of the screens: the cashier console's, or the configured one for `npm run diag`. */
  language?: Language;
  /** Screen title; says where the menu runs (the terminal itself, or a second shell). Default: this terminal, in the menu's language. */
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
  const lang = options.language ?? 'en';
  const tr: Tr = (key, vars) => t(lang, key, vars);
  const where = options.where ?? tr('tech-this-terminal');
  const screen = (title: string) => {
    tty.write(`${ansi.clear}${ansi.moveTo(options.header ? 2 : 1)}`);
    options.header?.();
    tty.line(ansi.bold(`pos-companion - ${tr('tech-title')} - ${title}`));
    tty.line();
  };
  const done = async () => {
    tty.line();
    tty.write(`${tr('anyKey')} `);
    return tty.pause();
  };
  const fail = (err: unknown) => tty.line(`${tr('error')}: ${isPosError(err) ? `${err.message} (${err.code})` : String(err)}`);

  screen(`PIN (${where})`);
  if (!(await login(session, tty, tr, done))) return undefined;

  const menu: MenuItem[] = (options.shutDown ? [...MENU.slice(0, -1), SHUTDOWN_ITEM, MENU.at(-1)!] : MENU).map((m) => ({
    key: m.key,
    label: tr(m.text),
  }));
  try {
    for (;;) {
      screen(where);
      for (const l of renderMenu(menu)) tty.line(l);
      tty.line();
      tty.write(`${tr('choose')} `);
      const key = await tty.choose(menu);
      if (key === null || key === 'x') return undefined;
      const item = menu.find((m) => m.key === key)!;
      screen(item.label);
      if (key === SHUTDOWN_ITEM.key && options.shutDown) {
        const confirm = await tty.readLine(tr('tech-shutdown-confirm'), { maxLength: 1 });
        if (confirm === null) continue;
        await options.shutDown();
        return 'shutdown';
      }
      let more = true;
      try {
        more = await SCREENS[key]!(session, tty, { clock, done, tr, lang });
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

async function login(session: DiagnosticsSession, tty: Tty, tr: Tr, done: () => Promise<boolean>): Promise<boolean> {
  for (;;) {
    const pin = await tty.readLine(tr('tech-pin'), { mask: true, maxLength: 12 });
    if (pin === null) return false;
    let result;
    try {
      result = await session.login(pin);
    } catch (err) {
      tty.line(`${tr('error')}: ${isPosError(err) ? err.message : String(err)}`);
      await done();
      return false;
    }
    if (result.ok) return true;
    if (result.reason === 'wrong-pin') {
      tty.line(tr('tech-wrong-pin', { attempts: String(result.attemptsLeft) }));
      continue;
    }
    if (result.reason === 'locked') {
      tty.line(tr('tech-locked', { seconds: String(Math.ceil(result.lockedForMs / 1000)) }));
    } else {
      tty.line(tr('tech-no-pin'));
    }
    await done();
    return false;
  }
}

type Tr = (key: TextKey, vars?: Record<string, string>) => string;

/** What every screen gets besides the session and the terminal. */
interface ScreenContext {
  clock: Clock;
  done: () => Promise<boolean>;
  tr: Tr;
  lang: Language;
}

type Screen = (session: DiagnosticsSession, tty: Tty, c: ScreenContext) => Promise<boolean>;

const SCREENS: Record<string, Screen> = {
  '1': async (s, tty, { clock, tr, lang }) => {
    const info = await s.deviceInfo();
    tty.line(tr('tech-terminal', { id: info.terminalId, mid: info.merchantId, version: info.version, node: info.node }));
    tty.line(tr('tech-uptime', { uptime: formatAge(info.uptimeSeconds * 1000), schema: String(info.schemaVersion) }));
    const r = info.reader;
    tty.line(
      `${tr('tech-reader-line')}  ${r.path}  ${r.error ? tr('tech-info-unavailable', { error: r.error }) : `${r.vendor ?? ''} ${r.model ?? ''} s/n ${r.serial ?? ''} fw ${r.firmware ?? ''}`}`,
    );
    tty.line(`${tr('tech-printer-line')}  ${info.printer.path}`);
    tty.line(`${tr('tech-host-line')}  ${info.host.address}:${info.host.port}`);
    tty.line();
    tty.line(tr('tech-live'));
    for (;;) {
      const st = await s.status();
      const w = (state: string) => stateWord(lang, state);
      tty.write(
        `\r${ansi.clearLine}${tr('host')} ${w(st.host)} | ${tr('saf')} ${st.safDepth} | ${tr('printer')} ${w(st.printer)} | ${tr('reader')} ${w(st.reader)}`,
      );
      const key = await tty.keyWithin(LIVE_REFRESH_MS, clock);
      if (key) {
        tty.line();
        return key.name !== 'eof';
      }
    }
  },
  '2': async (s, tty, { done, tr }) => {
    tty.line(tr('tech-present-card'));
    const r = await s.cardReadTest();
    tty.line(
      r.ok ? tr('tech-card-ok', { pan: r.maskedPan ?? '', mode: r.entryMode ?? '' }) : tr('tech-card-failed', { error: r.error ?? '' }),
    );
    return done();
  },
  '3': async (s, tty, { done, tr }) => {
    tty.line(tr('tech-printing'));
    const r = await s.testPrint();
    tty.line(r.printed ? tr('tech-print-ok') : tr('tech-print-failed', { error: r.error ?? '' }));
    return done();
  },
  '4': async (s, tty, { done, tr }) => {
    tty.line(tr('tech-echo-sending'));
    const r = await s.hostEcho();
    tty.line(
      r.ok
        ? tr('tech-echo-ok', { code: r.responseCode ?? '', ms: String(r.rttMs) })
        : tr('tech-echo-failed', { ms: String(r.rttMs), error: r.error ?? '' }),
    );
    return done();
  },
  '5': async (s, tty, { clock, tr }) => {
    for (;;) {
      const queues = await s.queues();
      tty.line(`${padWide(tr('tech-col-queue'), 22)}${padWide(tr('tech-col-waiting'), 8, 'start')}  ${tr('tech-col-oldest')}`);
      for (const q of queues) {
        tty.line(
          `${padWide(tr(QUEUE_LABEL[q.name]), 22)}${String(q.count).padStart(8)}  ${q.oldestAt === null ? '-' : formatAge(clock.now() - q.oldestAt)}`,
        );
      }
      tty.line();
      tty.line(tr('tech-drain-keys'));
      const key = await tty.choose(Object.keys(QUEUE_KEYS).map((k) => ({ key: k, label: '' })));
      if (key === null) return true;
      const queue = QUEUE_KEYS[key]!;
      tty.line(tr('tech-draining', { queue: tr(QUEUE_LABEL[queue]) }));
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
          ? tr('tech-drained', { done: String(result.done) })
          : tr('tech-drain-stopped', { remaining: String(result.remaining), done: String(result.done) }),
      );
      tty.line();
    }
  },
  '6': async (s, tty, { done, tr, lang }) => {
    const stats = await s.declineStats();
    if (stats.length === 0) tty.line(tr('tech-no-declines'));
    else {
      tty.line(
        `${padWide(tr('tech-col-code'), 20)}${padWide(tr('tech-col-count'), 6, 'start')}  ${padWide(tr('tech-col-category'), 9)} ${tr('tech-col-reason')}`,
      );
      for (const d of stats) {
        const entry = explain(d.code);
        tty.line(
          `${d.code.padEnd(20)}${String(d.count).padStart(6)}  ${padWide(categoryWord(lang, entry.category), 9)} ${entry.cashier[lang]}`,
        );
      }
    }
    return done();
  },
  '7': async (s, tty, { done, tr }) => {
    const alerts = await s.alerts();
    if (alerts.length === 0) tty.line(tr('tech-no-alerts'));
    for (const a of alerts) {
      tty.line(
        `${formatDateTime(a.raisedAt)}  ${a.severity.padEnd(8)} ${a.clearedAt === null ? tr('tech-alert-open') : tr('tech-alert-cleared')}  ${a.message}`,
      );
    }
    return done();
  },
  '8': async (s, tty, { done, tr }) => {
    for (;;) {
      const { runs, names } = await s.jobs();
      if (runs.length === 0) tty.line(tr('tech-no-jobs'));
      for (const r of runs) {
        tty.line(`${formatDateTime(r.startedAt)}  ${r.job.padEnd(16)} ${r.outcome.padEnd(8)} ${r.error ?? ''}`);
      }
      tty.line();
      if (names.length === 0) {
        tty.line(tr('tech-no-scheduler'));
        return done();
      }
      const items = names.slice(0, 9).map((n, i) => ({ key: String(i + 1), label: tr('tech-run-now', { job: n }) }));
      for (const l of renderMenu(items)) tty.line(l);
      tty.line(`  [Esc] ${tr('back')}`);
      const key = await tty.choose(items);
      if (key === null) return true;
      const name = names[Number(key) - 1]!;
      tty.line(tr('tech-running', { job: name }));
      tty.line(`${name}: ${await s.runJob(name)}`);
      tty.line();
    }
  },
  '9': async (s, tty, { done, tr }) => {
    const lines = await s.logTail(Math.max(5, tty.rows - 8));
    if (lines.length === 0) tty.line(tr('tech-log-empty'));
    for (const l of lines) tty.line(l);
    return done();
  },
  l: async (s, tty, { done, tr }) => {
    const level = await tty.readLine(tr('tech-level-prompt'), { maxLength: 8 });
    if (level === null) return true;
    tty.line(tr('tech-level-set', { level: await s.setLogLevel(level.trim()) }));
    return done();
  },
  c: async (s, tty, { done }) => {
    for (const l of JSON.stringify(await s.config(), null, 2).split('\n')) tty.line(l);
    return done();
  },
  e: async (s, tty, { done, tr }) => {
    tty.line(tr('tech-collecting'));
    const r = await s.exportBundle();
    tty.line(tr('tech-bundle', { path: r.path, bytes: String(r.bytes) }));
    return done();
  },
};

/** Pads to a column width counting a CJK character as two columns, so tables line up in Chinese too. */
function padWide(text: string, width: number, side: 'start' | 'end' = 'end'): string {
  const pad = ' '.repeat(Math.max(0, width - displayWidth(text)));
  return side === 'start' ? pad + text : text + pad;
}
