import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { reconcile, type JournalRecord } from '../../firmware-app/reconcile/reconcile.js';
import { Simulator } from '../../sim/index.js';
import { REPO, TerminalProcess, writeSimConfig } from '../support/terminal-process.js';

/**
 * The worst moment to die: the 0200 has reached the host (which posts it) and the 0210 has
 * not come back. The built process is killed with SIGKILL right then, restarted on the same
 * database, and must reverse the sale on its own.
 */
describe('killed between the 0200 and the 0210', () => {
  let sim: Simulator;
  let dbFile: string;
  let configPath: string;
  let dataDir: string;
  const running: TerminalProcess[] = [];

  function journal(): JournalRecord[] {
    const db = new Database(dbFile, { readonly: true, fileMustExist: true });
    try {
      return db.prepare<[], JournalRecord>('SELECT id, type, state, amount, currency, stan FROM transactions ORDER BY id').all();
    } finally {
      db.close();
    }
  }

  beforeAll(async () => {
    sim = await Simulator.start();
    const cfg = writeSimConfig(sim, {
      host: { responseTimeoutMs: 30_000, reversalTimeoutMs: 5000, reversalBackoffMinMs: 200, reversalBackoffMaxMs: 2000 },
    });
    configPath = cfg.configPath;
    dataDir = cfg.dataDir;
    dbFile = join(cfg.dataDir, 'pos-companion.db');
  });

  afterAll(async () => {
    for (const t of running) if (t.child.exitCode === null && t.child.signalCode === null) await t.kill();
    await sim.stop();
  });

  it('restarts, reverses the posted sale, and the journal reconciles with the host ledger', async () => {
    const first = new TerminalProcess(['--config', configPath]);
    running.push(first);
    await first.waitFor(/pos-companion ready/, 30_000);

    // The host posts the sale but its answer is lost; the terminal dies the moment the 0200 lands.
    sim.host.queue({ type: 'drop' });
    let stan = '';
    sim.host.onRequest((msg) => {
      if (msg.mti !== '0200' || stan) return;
      stan = String(msg.fields.get(11));
      first.child.kill('SIGKILL');
    });
    first.type('12.34');
    await first.exit();
    expect(first.child.signalCode).toBe('SIGKILL');
    expect(stan).toMatch(/^\d{6}$/);
    expect(sim.host.ledger.get('TERM0001', stan)).toMatchObject({ status: 'posted', amount: 1234 });
    expect(journal()).toMatchObject([{ stan, state: 'online_sent', amount: 1234 }]);

    const second = new TerminalProcess(['--config', configPath]);
    running.push(second);
    await second.waitFor(/pos-companion ready/, 30_000);
    await expect.poll(() => journal()[0]?.state, { timeout: 60_000, interval: 200 }).toBe('reversed');

    expect(sim.host.ledger.get('TERM0001', stan)?.status).toBe('reversed');
    const reversals = sim.host.received.map((r) => r.message).filter((m) => m.mti === '0400' || m.mti === '0401');
    expect(reversals[0]?.mti).toBe('0400');
    expect(String(reversals[0]?.fields.get(90)).slice(0, 10)).toBe(`0200${stan}`);
    expect(reversals[0]?.fields.get(11)).not.toBe(stan);
    // The 0200 itself was never sent again.
    expect(sim.host.received.filter((r) => r.message.mti === '0200')).toHaveLength(1);
    expect(reconcile(journal(), sim.host.ledger.all(), 'TERM0001')).toMatchObject({ clean: true, mismatches: [] });

    second.type('q');
    expect(await second.exit()).toBe(0);

    // The same check as a command: npm run reconcile reads the database and the host's ledger file.
    const ledgerFile = join(dataDir, 'ledger.json');
    sim.host.writeLedger(ledgerFile);
    const cli = join(REPO, 'dist', 'firmware-app', 'reconcile', 'cli.js');
    const clean = spawnSync(process.execPath, [cli, '--db', dbFile, '--ledger', ledgerFile], { encoding: 'utf8' });
    expect(clean.stdout).toMatch(/1 transactions checked against \d+ host entries: clean/);
    expect(clean.status).toBe(0);

    // A posting the terminal knows nothing of is listed, and the exit status says so.
    const snapshot = JSON.parse(readFileSync(ledgerFile, 'utf8')) as { entries: Record<string, unknown>[] };
    snapshot.entries.push({ ...snapshot.entries[0], stan: '999999', status: 'posted' });
    writeFileSync(ledgerFile, JSON.stringify(snapshot));
    const dirty = spawnSync(process.execPath, [cli, '--db', dbFile, '--ledger', ledgerFile], { encoding: 'utf8' });
    expect(dirty.stdout).toMatch(/STAN 999999 sale: extra: host has a sale of \d+ the terminal has no record of/);
    expect(dirty.status).toBe(1);
  });
});
