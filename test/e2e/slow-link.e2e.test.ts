import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { reconcile, type JournalRecord } from '../../firmware-app/reconcile/reconcile.js';
import { Simulator } from '../../sim/index.js';
import { seededRandom, TcpProxy } from '../support/tcp-proxy.js';
import { TerminalProcess, writeSimConfig } from '../support/terminal-process.js';

/**
 * A slow, lossy mobile link that still works must not look dead: the built terminal with its
 * default liveness settings, through a relay that delays each direction by 400 ms and loses
 * 5 % of the chunks. Loss is modelled as what TCP turns it into, a retransmission delay (1 s,
 * doubling when lost again); the kernel here has no netem to lose real packets.
 */
describe('sales over a slow, lossy but working link', () => {
  let sim: Simulator;
  let relay: TcpProxy;
  let terminal: TerminalProcess;
  let dataDir: string;

  beforeAll(async () => {
    sim = await Simulator.start();
    relay = new TcpProxy({ address: '127.0.0.1', port: sim.endpoints.hostPort }, seededRandom(20261125));
    relay.setShape({ delayMs: 400, loss: 0.05, rtoMs: 1_000 });
    const port = await relay.listen();
    const cfg = writeSimConfig(sim, { host: { address: '127.0.0.1', port, responseTimeoutMs: 30_000 } });
    dataDir = cfg.dataDir;
    terminal = new TerminalProcess(['--config', cfg.configPath]);
    await terminal.waitFor(/pos-companion ready \[host online/, 30_000);
  });

  afterAll(async () => {
    if (terminal && terminal.child.exitCode === null) await terminal.kill();
    await relay?.close();
    await sim?.stop();
  });

  it('completes 20 sales, every one approved online, with no false reversal', async () => {
    for (let i = 0; i < 20; i++) {
      const from = terminal.stdout.length;
      terminal.type(`${10 + i}.00`);
      await terminal.waitFor(/\(transaction \d+\)/, 60_000, from);
      await terminal.waitFor(/\n> $/, 30_000, from);
      expect(terminal.stdout.slice(from)).toMatch(/APPROVED auth/);
    }
    const db = new Database(join(dataDir, 'pos-companion.db'), { readonly: true, fileMustExist: true });
    let journal: JournalRecord[];
    try {
      journal = db.prepare('SELECT id, type, state, amount, currency, stan FROM transactions ORDER BY id').all() as JournalRecord[];
      expect(db.prepare('SELECT count(*) AS n FROM reversals').get()).toEqual({ n: 0 });
    } finally {
      db.close();
    }
    expect(journal.map((t) => t.state)).toEqual(Array<string>(20).fill('approved'));
    expect(sim.host.ledger.posted()).toHaveLength(20);
    expect(reconcile(journal, sim.host.ledger.all(), 'TERM0001')).toMatchObject({ clean: true, mismatches: [] });
  }, 120_000);
});
