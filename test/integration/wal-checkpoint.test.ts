import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../drivers/base/logger.js';
import { parseConfig } from '../../firmware-app/config/load.js';
import type { WalCheckpointOptions } from '../../firmware-app/store/db.js';
import { compose, type App } from '../../firmware-app/compose.js';
import { Simulator } from '../../sim/index.js';

/**
 * The terminal in-process against the simulator (reader and printer on socat ptys, host on
 * loopback), its journal in a real SQLite file. A checkpoint is the only thing that writes
 * the database file itself in WAL mode, so the file's bytes say whether one ran.
 */
describe('WAL checkpoints in a running terminal', () => {
  let sim: Simulator;
  let terminal: App | undefined;
  let terminals = 0;

  beforeAll(async () => {
    sim = await Simulator.start();
  });

  afterAll(async () => {
    await sim.stop();
  });

  afterEach(async () => {
    await terminal?.stop();
    terminal = undefined;
  });

  async function startTerminal(walCheckpoints: Partial<WalCheckpointOptions>) {
    const ep = sim.endpoints;
    const dataDir = mkdtempSync(join(tmpdir(), 'pos-wal-it-'));
    const config = parseConfig({
      dataDir,
      terminal: { id: `WALC${String(++terminals).padStart(4, '0')}` },
      reader: { path: ep.readerPath, commandTimeoutMs: 5000 },
      printer: { path: ep.printerPath, statusTimeoutMs: 5000 },
      host: { address: ep.hostAddress, port: ep.hostPort, responseTimeoutMs: 5000 },
      log: { level: 'silent', target: 'stdout' },
    });
    const t = compose(config, { logger: silentLogger, walCheckpoints });
    terminal = t;
    await t.start();
    const file = join(dataDir, 'pos-companion.db');
    return {
      t,
      databaseFile: () => createHash('sha256').update(readFileSync(file)).digest('hex'),
      walBytes: () => statSync(`${file}-wal`, { throwIfNoEntry: false })?.size ?? 0,
    };
  }

  it('a sale, its slips and the payment after it leave the database file untouched: the WAL is not checkpointed in a payment', async () => {
    const { t, databaseFile, walBytes } = await startTerminal({ idleMs: 3_600_000 });
    const before = databaseFile();
    const walBefore = walBytes();

    const sale = await t.terminal.sale(1250);
    expect(sale).toMatchObject({ result: 'approved', printed: true });
    const next = await t.terminal.sale(300);
    expect(next.result).toBe('approved');

    expect(databaseFile()).toBe(before);
    expect(walBytes()).toBeGreaterThan(walBefore);
    expect(t.journal.get(sale.transaction.id).state).toBe('approved');
  });

  it('once the terminal is idle, the WAL is copied into the database file and emptied', async () => {
    const { t, databaseFile, walBytes } = await startTerminal({ pollMs: 50, idleMs: 300 });
    const sale = await t.terminal.sale(990);
    expect(sale.result).toBe('approved');
    const before = databaseFile();

    await until(() => walBytes() === 0);
    expect(databaseFile()).not.toBe(before);
    expect(t.journal.get(sale.transaction.id)).toMatchObject({ state: 'approved', amount: 990 });
  });
});

/** Waits for a condition the terminal reaches by itself; fails after 20 s. */
async function until(condition: () => boolean): Promise<void> {
  for (let waited = 0; !condition(); waited += 50) {
    if (waited > 20_000) throw new Error('condition not reached in 20 s');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
