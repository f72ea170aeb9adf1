import { join } from 'node:path';
import { createConnection } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../drivers/base/clock.js';
import { silentLogger } from '../../drivers/base/logger.js';
import { CONTROL_LIMITS, ControlServer } from '../../firmware-app/control/server.js';
import { compose, type App } from '../../firmware-app/compose.js';
import { LocalDiagnosticsSession } from '../../firmware-app/ui/diagnostics/session.js';
import { pinGuardFor } from '../../firmware-app/ui/start.js';
import { TerminalAdapter } from '../../firmware-app/ui/terminal-adapter.js';
import { Simulator } from '../../sim/index.js';
import { inProcessConfig } from '../support/terminal-process.js';

/** A connection the server has taken on (it answered a first request), left open. */
async function hold(path: string): Promise<() => void> {
  const s = createConnection(path);
  s.on('error', () => undefined);
  await new Promise<void>((resolve) => {
    s.once('data', () => resolve());
    s.once('connect', () => s.write(`${JSON.stringify({ id: 1, method: 'status' })}\n`));
  });
  return () => s.destroy();
}

/** Opens a connection, writes every line at once, and resolves with what came back when the server closes it. */
function flood(path: string, lines: string): Promise<string> {
  return new Promise((resolve) => {
    const s = createConnection(path);
    let reply = '';
    s.on('data', (d: Buffer) => (reply += d.toString()));
    s.on('error', () => undefined);
    s.on('close', () => resolve(reply));
    s.on('connect', () => s.write(lines));
  });
}

describe('a flood on the control socket cannot stall a payment', () => {
  let sim: Simulator;
  let terminal: App;
  let server: ControlServer;

  beforeAll(async () => {
    sim = await Simulator.start();
    const config = inProcessConfig(sim, 'pos-flood-', { sim: true });
    terminal = compose(config, { logger: silentLogger });
    await terminal.start();
    const adapter = new TerminalAdapter(terminal.terminal, { clock: systemClock, logger: silentLogger });
    const guard = pinGuardFor(config, systemClock);
    server = new ControlServer(join(config.dataDir, 'control.sock'), {
      logger: silentLogger,
      openSession: (actor) => new LocalDiagnosticsSession(adapter, guard, actor),
    });
    await server.start();
  }, 60_000);

  afterAll(async () => {
    await server?.stop();
    await terminal?.stop();
    await sim?.stop();
  }, 60_000);

  it('bounds the work per connection, turns extra connections away, audits refusals once per session, and the sale is approved', async () => {
    const requests = Array.from({ length: 5_000 }, (_, i) => JSON.stringify({ id: i + 1, method: 'queues' })).join('\n') + '\n';
    const logins =
      Array.from({ length: 500 }, (_, i) => JSON.stringify({ id: i + 1, method: 'login', params: ['9999'] })).join('\n') + '\n';
    // Every session slot taken: one more connection is turned away at once.
    const held = await Promise.all(Array.from({ length: CONTROL_LIMITS.connections }, () => hold(server.path)));
    expect(await flood(server.path, requests)).toContain('CONTROL_BUSY');
    for (const release of held) release();

    const floods = [...Array.from({ length: 12 }, () => flood(server.path, requests)), flood(server.path, logins)];
    const sale = terminal.terminal.sale(1234);
    const replies = await Promise.all(floods);
    expect((await sale).result).toBe('approved');

    // Each connection was either turned away or cut after a bounded number of answers.
    for (const reply of replies) {
      const answers = reply.trim().split('\n');
      expect(answers.length).toBeLessThanOrEqual(CONTROL_LIMITS.queuedRequests + 1);
      expect(reply).toMatch(/CONTROL_BUSY|CONTROL_FLOOD|CONTROL_TOO_MANY_ERRORS/);
    }

    // A few audit rows per session, not one per request: the first refusal, then one summary with the count.
    const rows = terminal.db.prepare(`SELECT actor, action, detail, outcome FROM audit_log ORDER BY id`).all() as {
      actor: string;
      action: string;
      detail: string | null;
      outcome: string;
    }[];
    const sessions = new Set(rows.map((r) => r.actor));
    expect(rows.length).toBeLessThanOrEqual(sessions.size * 2 + 10);
    expect(rows.filter((r) => r.action === 'refusals').every((r) => (JSON.parse(r.detail!) as { count: number }).count > 0)).toBe(true);
    // 500 PIN guesses in one write: the connection is cut long before they are all tried.
    const guesses = rows.filter((r) => r.action === 'login');
    expect(guesses.length).toBeGreaterThan(0);
    expect(guesses.length).toBeLessThanOrEqual(5);
  }, 120_000);
});
