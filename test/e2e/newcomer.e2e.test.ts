import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Simulator } from '../../sim/index.js';
import { REPO, TerminalProcess } from '../support/terminal-process.js';
import { TmuxTerminal } from '../support/tmux.js';

/** A port nothing listens on: bound, read, released. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function until(check: () => boolean, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The README's first steps, as a newcomer on a fresh clone takes them. */
describe('a newcomer following the README', () => {
  const cleanups: (() => Promise<void> | void)[] = [];
  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  });

  it('npm start -- --sim-decline 51 shows the README decline screen', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'pos-newcomer-'));
    const term = TmuxTerminal.start('newcomer', ['env', `POS_DATA_DIR=${dataDir}`, 'npm', 'start', '--', '--sim-decline', '51'], {
      cwd: REPO,
    });
    cleanups.push(() => term.kill());
    await term.waitFor(/host online \| SAF 0 \| printer ready \| reader connected/, 90_000);
    await term.waitFor(/Operator number/);
    term.type('01');
    term.keys('Enter');
    await term.waitFor(/Sale amount \(CNY\):/);
    term.type('12.34');
    term.keys('Enter');
    await term.waitFor(/Receipt printed\./, 30_000);
    const screen = term.screen();
    expect(screen).toMatch(/DECLINED: Insufficient funds/);
    expect(screen).toMatch(/Code: 51 {2}\(Category: issuer\)/);
    expect(screen).toMatch(/What to do: Ask for another card or a smaller amount\./);
    expect(screen).toMatch(/Tell the customer: Insufficient funds/);
    expect(screen).not.toMatch(/APPROVED/);
  }, 150_000);

  it('without --config, POS_ variables point the terminal at a simulator started by npm run sim, and other keys apply too', async () => {
    const sim = await Simulator.start();
    cleanups.push(() => sim.stop());
    const receipts: string[] = [];
    sim.printer.on('receipt', (r: { text: string }) => receipts.push(r.text));
    const ep = sim.endpoints;
    const dataDir = mkdtempSync(join(tmpdir(), 'pos-env-only-'));
    // The command the simulator's banner suggests, plus two overrides a technician might add.
    const terminal = new TerminalProcess([], {
      POS_READER_PATH: ep.readerPath,
      POS_PRINTER_PATH: ep.printerPath,
      POS_HOST_PORT: String(ep.hostPort),
      POS_TMS_URL: ep.tmsUrl,
      POS_DATA_DIR: dataDir,
      POS_TERMINAL_ID: 'TERM0042',
    });
    cleanups.push(async () => {
      if (terminal.child.exitCode === null) await terminal.kill('SIGTERM');
    });
    await terminal.waitFor(/pos-companion ready \[host online/, 60_000);
    terminal.type('12.34');
    const m = await terminal.waitFor(/APPROVED .*STAN (\d{6})/, 30_000);
    // The sale reached this test's host under the overridden terminal id, and its slip this test's printer.
    expect(sim.host.ledger.get('TERM0042', m[1]!)).toMatchObject({ status: 'posted', amount: 1234 });
    await until(() => receipts.some((r) => r.includes('TERM0042')), 'the receipt on the simulator started by the test');
    expect(terminal.stdout).not.toContain('printer (simulated)');
    expect(existsSync(join(dataDir, 'pos-companion.db'))).toBe(true);
  }, 120_000);

  it('a production start (--config, no --sim) loads no file from sim/, and nothing that waits for a print, a settlement or a technician', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pos-prod-start-'));
    const configPath = join(dir, 'config.json');
    writeFileSync(
      configPath,
      JSON.stringify({
        dataDir: join(dir, 'data'),
        reader: { path: join(dir, 'no-reader') },
        printer: { path: join(dir, 'no-printer') },
        host: { address: '127.0.0.1', port: await closedPort() },
        log: { target: 'file' },
      }),
    );
    const record = join(dir, 'loads.txt');
    const readyFile = join(dir, 'ready');
    const terminal = new TerminalProcess(['--config', configPath, '--ready-file', readyFile], {
      LOAD_RECORD_FILE: record,
      NODE_OPTIONS: `--import=${join(REPO, 'test', 'support', 'record-loads.mjs')}`,
    });
    cleanups.push(async () => {
      if (terminal.child.exitCode === null) await terminal.kill('SIGTERM');
    });
    await until(() => existsSync(readyFile), 'the ready file', 60_000);
    expect(await terminal.kill('SIGTERM')).toBe(0);
    const loaded = readFileSync(record, 'utf8')
      .split('\n')
      .filter((url) => url.startsWith('file://'));
    const fromDist = (sub: string) => loaded.filter((url) => url.includes(`/dist/${sub}/`));
    // The recorder works: the terminal's own files are there, the engine and the link among them.
    expect(fromDist('firmware-app').length).toBeGreaterThan(20);
    expect(fromDist('firmware-app').some((url) => url.endsWith('/host/link.js'))).toBe(true);
    expect(fromDist('sim')).toEqual([]);
    // Loaded at their first use: a slip or report printed, a batch closed, the nightly backup, a console or a technician session.
    const firstUse = [
      'firmware-app/receipts/render-slip.js',
      'firmware-app/receipts/layout.js',
      'drivers/printer/escpos.js',
      'firmware-app/settlement/report.js',
      'firmware-app/jobs/backup.js',
      'firmware-app/ui/cashier/console.js',
      'firmware-app/ui/terminal-adapter.js',
      'firmware-app/ui/diagnostics/session.js',
    ];
    expect(
      loaded.filter((url) => firstUse.some((file) => url.endsWith(`/dist/${file}`)) || url.includes('/node_modules/iconv-lite/')),
    ).toEqual([]);
  }, 90_000);
});

describe('runtime', () => {
  it('survives many SQLite statements created and dropped in a tight loop (better-sqlite3 12 aborted on Node 24)', () => {
    const script = `
      const Database = require('better-sqlite3');
      const db = new Database(':memory:');
      db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)');
      for (let round = 0; round < 20; round++) {
        for (let i = 0; i < 2000; i++) db.prepare('INSERT INTO t (v) VALUES (?)').run('x' + i);
        globalThis.gc();
      }
      const n = db.prepare('SELECT count(*) AS n FROM t').get().n;
      db.close();
      globalThis.gc();
      process.stdout.write('rows ' + n);
    `;
    const out = execFileSync(process.execPath, ['--expose-gc', '-e', script], { cwd: REPO, encoding: 'utf8' });
    expect(out).toBe('rows 40000');
  });
});
