import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../drivers/base/logger.js';
import { parseConfig } from '../../firmware-app/config/load.js';
import { compose, type App } from '../../firmware-app/compose.js';
import { Simulator } from '../../sim/index.js';
import { walCommits } from '../support/wal-commits.js';

/**
 * The fsync budget of a sale, counted as commits in the real SQLite file's WAL (each one fsync
 * with synchronous=FULL, so on a terminal's eMMC each is milliseconds the cashier waits): a whole
 * terminal against the simulator, the reader on a real pty, the host on loopback. The write-ahead
 * rule needs one commit before the 0200 leaves and one for the answer (online), or one for the
 * offline approval; the slips' printed marks follow in one deferred commit. A sale's row is also
 * committed when it is rung up (`created`), but unflushed (journal.test.ts): that commit costs no
 * fsync, and the bench's strace count (F) shows 2 + 1 online and 1 + 1 offline.
 */
describe('fsync budget of a sale', () => {
  let sim: Simulator;
  let terminal: App | undefined;
  let terminals = 0;

  beforeAll(async () => {
    sim = await Simulator.start({ tapDelayMs: 0 });
  });

  afterAll(async () => {
    await sim.stop();
  });

  afterEach(async () => {
    await terminal?.stop();
    terminal = undefined;
  });

  async function startTerminal(online: boolean): Promise<{ t: App; wal: string }> {
    const ep = sim.endpoints;
    const config = parseConfig({
      dataDir: mkdtempSync(join(tmpdir(), 'pos-fsync-it-')),
      terminal: { id: `FSYN${String(++terminals).padStart(4, '0')}` },
      reader: { path: ep.readerPath, commandTimeoutMs: 5000 },
      printer: { path: ep.printerPath, statusTimeoutMs: 5000 },
      host: online
        ? { address: ep.hostAddress, port: ep.hostPort, responseTimeoutMs: 5000 }
        : { address: '127.0.0.1', port: 1, connectTimeoutMs: 500 },
      diagnostics: { controlSocket: '' },
      log: { level: 'silent', target: 'stdout' },
    });
    // No idle checkpoint during the test: it would empty the WAL the commits are counted in.
    const t = compose(config, { logger: silentLogger, walCheckpoints: { idleMs: 3_600_000 } });
    terminal = t;
    await t.start();
    return { t, wal: join(config.dataDir, 'pos-companion.db-wal') };
  }

  /** Commits from the sale's start to its result, and from the result until its slips are marked printed. */
  async function sale(t: App, wal: string, amount: number): Promise<{ result: string; before: number; after: number }> {
    const start = walCommits(wal);
    let atResult = start;
    const outcome = await t.terminal.sale(amount, (p) => {
      if (p === 'done') atResult = walCommits(wal);
    });
    while (t.printing.state.pending > 0) await new Promise((resolve) => setTimeout(resolve, 10));
    return { result: outcome.result, before: atResult - start, after: walCommits(wal) - atResult };
  }

  it('an online sale commits three times before the cashier sees APPROVED (rung up unflushed, sent, answered), and its two slips once after', async () => {
    const { t, wal } = await startTerminal(true);
    const sales = [];
    for (let i = 0; i < 3; i++) sales.push(await sale(t, wal, 1_000 + i));
    expect(sales).toEqual(Array(3).fill({ result: 'approved', before: 3, after: 1 }));
  });

  it('an offline sale commits twice before the cashier sees OFFLINE APPROVED (rung up unflushed, approved), and its two slips once after', async () => {
    const { t, wal } = await startTerminal(false);
    const sales = [];
    for (let i = 0; i < 3; i++) sales.push(await sale(t, wal, 1_000 + i));
    expect(sales).toEqual(Array(3).fill({ result: 'offline_approved', before: 2, after: 1 }));
  });
});
