import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashPin } from '../../firmware-app/ui/diagnostics/pin.js';
import { Simulator } from '../../sim/index.js';
import { TEST_CARDS } from '../../sim/cards.js';
import { MAIN, REPO, writeSimConfig } from '../support/terminal-process.js';
import { TmuxTerminal } from '../support/tmux.js';

const DIAG = join(REPO, 'dist', 'firmware-app', 'control', 'diag.js');

/**
 * The technician's diagnostic menu of the built process, in real terminals (tmux): the
 * terminal runs its cashier console in one, `npm run diag` runs in a second shell and
 * reaches it over the control socket, against the simulator.
 */
describe('technician diagnostic menu in a real terminal', () => {
  let sim: Simulator;
  let pos: TmuxTerminal;
  let diag: TmuxTerminal;
  let dataDir: string;
  const receipts: string[] = [];

  beforeAll(async () => {
    sim = await Simulator.start();
    sim.printer.on('receipt', (r: { text: string }) => receipts.push(r.text));
    const cfg = writeSimConfig(sim, { diagnostics: { pinHash: hashPin('2468'), lockoutMs: 60_000 } });
    dataDir = cfg.dataDir;
    pos = TmuxTerminal.start('pos', [process.execPath, MAIN, '--config', cfg.configPath], { cwd: REPO });
    await pos.waitFor(/host online \| SAF 0 \| printer ready \| reader connected/, 60_000);
    await pos.waitFor(/Operator number/);
    pos.type('01');
    pos.keys('Enter');
    await pos.waitFor(/Sale amount \(CNY\):/);
    diag = TmuxTerminal.start('diag', [process.execPath, DIAG, '--config', cfg.configPath], { cwd: REPO });
    await diag.waitFor(/Technician PIN/);
  }, 90_000);

  afterAll(async () => {
    diag?.kill();
    pos?.kill();
    await sim?.stop();
  });

  const back = async (t: TmuxTerminal) => {
    t.type(' ');
    await t.waitFor(/\[x\] Exit technician menu[\s\S]*Press a key\./);
  };

  it('logs in from a second shell with the technician PIN (masked)', async () => {
    diag.type('2468');
    await diag.waitFor(/Technician PIN \(Esc to go back\): \*{4}/);
    diag.keys('Enter');
    await diag.waitFor(/\[1\] Device info and live status[\s\S]*Press a key\./);
    expect(diag.screen()).toContain('remote,');
    diag.capture('diag-menu');
  });

  it('shows device info and the live status', async () => {
    diag.type('1');
    await diag.waitFor(/Reader\s+\S+\s+SIMCO SR-100 s\/n SIM00001/, 30_000);
    await diag.waitFor(/host online \| SAF 0 \| printer ready \| reader connected/);
    diag.capture('diag-device');
    await back(diag);
  });

  it('runs a test print and a host echo with its round-trip time', async () => {
    diag.type('3');
    await diag.waitFor(/Test print OK\./, 30_000);
    await expect.poll(() => receipts.some((r) => r.includes('TEST PRINT')), { timeout: 15_000 }).toBe(true);
    await back(diag);
    diag.type('4');
    const m = await diag.waitFor(/Host echo OK: response 00, round trip (\d+) ms/, 30_000);
    expect(Number(m[1])).toBeGreaterThanOrEqual(0);
    diag.capture('diag-echo');
    await back(diag);
  });

  it('shows the SAF depth while the host is down, and a forced drain that cannot deliver says so', async () => {
    await sim.host.stop();
    await pos.waitFor(/host offline/, 30_000);
    pos.type('20.00');
    pos.keys('Enter');
    await pos.waitFor(/APPROVED OFFLINE/, 30_000);
    await pos.waitFor(/host offline \| SAF 1 \|/, 15_000);
    pos.type(' ');

    diag.type('5');
    await diag.waitFor(/SAF \(offline sales\)\s+1\s+\d+s/);
    diag.capture('diag-queues-offline');
    diag.type('s');
    await diag.waitFor(/Stopped with 1 still waiting \(0 sent\)\./, 60_000);
  });

  it('forces the drain after the host returns and watches the queue empty', async () => {
    // The returning link starts forwarding on its own; the slow answer keeps that advice in
    // flight long enough for the technician's forced drain to be the one that sees it through.
    sim.host.queueFor('0220', { type: 'delay', ms: 8000 });
    await sim.host.start();
    await pos.waitFor(/host online/, 60_000);
    diag.type('s');
    await diag.waitFor(/Drained: 1 sent, queue empty\./, 60_000);
    expect(diag.screen()).toContain('[####################] 1/1');
    diag.capture('diag-drain');
    await diag.waitFor(/SAF \(offline sales\)\s+0\s+-/);
    expect(sim.host.received.some((r) => r.message.mti === '0220' || r.message.mti === '0221')).toBe(true);
    await pos.waitFor(/host online \| SAF 0 \|/, 15_000);
    diag.keys('Escape');
    await diag.waitFor(/\[x\] Exit technician menu[\s\S]*Press a key\./);
  });

  it('runs a job now from the job history screen', async () => {
    diag.type('8');
    const m = await diag.waitFor(/\[(\d)\] Run now: heartbeat/);
    diag.type(m[1]!);
    await diag.waitFor(/heartbeat: ok/, 30_000);
    diag.keys('Escape');
    await diag.waitFor(/\[x\] Exit technician menu[\s\S]*Press a key\./);
  });

  it('exports a diagnostics bundle without card data', async () => {
    diag.type('e');
    const m = await diag.waitFor(/Bundle written: (\S+) \((\d+) bytes\)/, 30_000);
    const bundle = readFileSync(m[1]!, 'utf8');
    expect(statSync(m[1]!).mode & 0o777).toBe(0o600);
    const parsed = JSON.parse(bundle) as {
      queues: { name: string; count: number }[];
      config: { diagnostics: { pinHash: string } };
      transactions: unknown[];
    };
    expect(parsed.queues.find((q) => q.name === 'saf')).toMatchObject({ count: 0 });
    expect(parsed.config.diagnostics.pinHash).toBe('********');
    expect(parsed.transactions.length).toBeGreaterThan(0);
    const db = new Database(join(dataDir, 'pos-companion.db'), { readonly: true });
    try {
      const cardFields = db.prepare('SELECT masked_pan, pan_token FROM transactions WHERE pan_token IS NOT NULL').all() as {
        masked_pan: string;
        pan_token: string;
      }[];
      expect(cardFields.length).toBeGreaterThan(0);
      for (const c of cardFields) {
        expect(bundle).not.toContain(c.masked_pan);
        expect(bundle).not.toContain(c.pan_token);
      }
    } finally {
      db.close();
    }
    for (const card of TEST_CARDS) expect(bundle).not.toContain(card.pan);
    await back(diag);
    diag.type('x');
  });

  it('locks the menu after five wrong PINs, even against the right one', async () => {
    pos.keys('F1');
    await pos.waitFor(/\[t\] Technician menu[\s\S]*Press a key\./);
    pos.type('t');
    const wrong = ['1111', '2222', '3333', '4444', '5555'];
    for (const [i, pin] of wrong.entries()) {
      // capture-pane trims trailing blanks: an empty prompt line ends at the colon.
      await pos.waitFor(/Technician PIN \(Esc to go back\):$/m);
      pos.type(pin);
      pos.keys('Enter');
      if (i < 4) await pos.waitFor(new RegExp(`Wrong PIN\\. ${4 - i} attempt\\(s\\) left`));
    }
    await pos.waitFor(/Menu LOCKED after repeated wrong PINs\. Try again in 60 s\./);
    pos.capture('diag-locked');
    pos.type(' ');
    await pos.waitFor(/Sale amount \(CNY\):/);
    pos.type('m');
    await pos.waitFor(/\[t\] Technician menu[\s\S]*Press a key\./);
    pos.type('t');
    await pos.waitFor(/Technician PIN/);
    pos.type('2468');
    pos.keys('Enter');
    await pos.waitFor(/Menu LOCKED after repeated wrong PINs\. Try again in \d+ s\./);
    expect(pos.screen()).not.toContain('[1] Device info');
  });

  it('recorded every technician action in the audit log, with no PIN or card data', () => {
    const db = new Database(join(dataDir, 'pos-companion.db'), { readonly: true });
    try {
      const rows = db.prepare('SELECT actor, action, outcome, detail FROM audit_log ORDER BY id').all() as {
        actor: string;
        action: string;
        outcome: string;
        detail: string | null;
      }[];
      const seen = rows.map((r) => `${r.actor.replace(/#\d+/, '')} ${r.action} ${r.outcome}`);
      expect(seen).toEqual(
        expect.arrayContaining([
          'control-socket login ok',
          'control-socket device-info ok',
          'control-socket test-print ok',
          'control-socket host-echo ok',
          'control-socket queues ok',
          'control-socket drain remaining 1',
          'control-socket drain ok',
          'control-socket run-job ok',
          'control-socket export-bundle ok',
          'console login wrong-pin',
          'console login locked',
        ]),
      );
      expect(seen.filter((s) => s === 'console login wrong-pin')).toHaveLength(4);
      const text = JSON.stringify(rows);
      for (const pin of ['2468', '1111', '5555']) expect(text).not.toContain(pin);
      for (const card of TEST_CARDS) expect(text).not.toContain(card.pan);
    } finally {
      db.close();
    }
  });
});
