import { mkdtempSync } from 'node:fs';
import { createConnection, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../drivers/base/logger.js';
import { MAX_MESSAGE_BYTES, SESSION_METHODS } from '../../firmware-app/control/protocol.js';
import { ControlServer } from '../../firmware-app/control/server.js';
import { hashPin, PinGuard } from '../../firmware-app/ui/diagnostics/pin.js';
import { LocalDiagnosticsSession } from '../../firmware-app/ui/diagnostics/session.js';
import type { DiagnosticsPort } from '../../firmware-app/ui/terminal-port.js';

/**
 * Fuzzing the control socket with arbitrary request lines: every line gets exactly one
 * final answer, an error always carries a string code, the server never dies, and an
 * endless line is cut at MAX_MESSAGE_BYTES instead of being buffered.
 */

const PIN = '2468';

function port(): DiagnosticsPort {
  const fail = () => Promise.reject(new Error('device not present'));
  return {
    deviceInfo: fail,
    status: () => ({ host: 'online', reader: 'connected', printer: 'ready', safDepth: 0 }),
    cardReadTest: fail,
    testPrint: async () => ({ printed: true }),
    hostEcho: async () => ({ ok: true, rttMs: 1, responseCode: '00' }),
    queues: () => [],
    drain: async () => ({ done: 0, total: 0, remaining: 0 }),
    declineStats: () => [],
    alerts: () => [],
    jobs: () => [],
    jobNames: () => ['backup'],
    runJob: fail,
    logTail: () => [],
    setLogLevel: (level: string) => level,
    config: () => ({}),
    exportBundle: fail,
    audit: () => undefined,
  };
}

interface Answer {
  id: number;
  result?: unknown;
  error?: { code: unknown; message: unknown };
  progress?: unknown;
}

/** Sends lines on a fresh connection and collects final answers until there is one per line. */
async function converse(path: string, lines: string[]): Promise<Answer[]> {
  const socket: Socket = createConnection(path);
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  const answers: Answer[] = [];
  let buf = '';
  const done = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`only ${answers.length} answers to ${lines.length} lines`)), 10_000);
    socket.on('data', (d: Buffer) => {
      buf += d.toString();
      for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
        const m = JSON.parse(buf.slice(0, nl)) as Answer;
        buf = buf.slice(nl + 1);
        if (!('progress' in m)) answers.push(m);
      }
      if (answers.length >= lines.length) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  socket.write(lines.map((l) => `${l}\n`).join(''));
  await done;
  socket.destroy();
  return answers;
}

const json = fc.jsonValue({ maxDepth: 3 });
const requestArb = fc
  .oneof(
    // Well-formed envelopes with any method name and any params.
    fc
      .record({
        id: fc.integer({ min: 1, max: 1_000_000 }),
        method: fc.oneof(
          fc.constantFrom(...SESSION_METHODS),
          fc.string({ maxLength: 20 }),
          fc.constantFrom('__proto__', 'constructor', 'toString', 'hasOwnProperty'),
        ),
        params: fc.oneof(fc.array(json, { maxLength: 4 }), json),
      })
      .map((r) => JSON.stringify(r)),
    // Envelopes of the wrong shape, and arbitrary JSON.
    json.map((v) => JSON.stringify(v)),
    // Not JSON at all.
    fc.string({ unit: 'binary', minLength: 1, maxLength: 200 }),
  )
  .map((line) => line.replace(/[\r\n]/g, ' '))
  .filter((line) => line.trim() !== '');

describe('control socket under arbitrary requests', () => {
  let server: ControlServer;
  let path: string;

  beforeAll(async () => {
    path = join(mkdtempSync(join(tmpdir(), 'pos-fuzz-ctl-')), 'control.sock');
    const guard = new PinGuard(
      { pinHash: hashPin(PIN, { N: 1024, r: 8, p: 1 }), maxFailures: 1_000_000, lockoutMs: 60_000, maxLockoutMs: 3_600_000 },
      { now: () => 0, setTimeout: () => ({}), clearTimeout: () => undefined },
    );
    server = new ControlServer(path, { logger: silentLogger, openSession: (actor) => new LocalDiagnosticsSession(port(), guard, actor) });
    await server.start();
  });

  afterAll(async () => {
    await server.stop();
  });

  it('answers every line once, logged in or not, with a result or an error carrying a code', async () => {
    await fc.assert(
      fc.asyncProperty(fc.boolean(), fc.array(requestArb, { minLength: 1, maxLength: 8 }), async (loggedIn, lines) => {
        const all = loggedIn ? [JSON.stringify({ id: 1, method: 'login', params: [PIN] }), ...lines] : lines;
        const answers = await converse(path, all);
        expect(answers).toHaveLength(all.length);
        for (const a of answers) {
          expect(typeof a.id).toBe('number');
          if (a.error) {
            expect(typeof a.error.code).toBe('string');
            expect(a.error.code).toMatch(/^[A-Z][A-Z0-9_]+$/);
            expect(typeof a.error.message).toBe('string');
          } else {
            expect('result' in a).toBe(true);
          }
        }
        if (!loggedIn) {
          // Nothing but login (and the harmless logout) does anything before the PIN.
          for (const a of answers)
            if (a.result !== undefined && a.result !== null) expect(a.result).toMatchObject({ ok: expect.any(Boolean) });
        }
      }),
      { numRuns: 150 },
    );
    // Still serving after all that.
    const [answer] = await converse(path, [JSON.stringify({ id: 7, method: 'status' })]);
    expect(answer).toMatchObject({ id: 7, error: { code: 'DIAG_NOT_LOGGED_IN' } });
  }, 60_000);

  it('cuts an endless line at the limit and closes that connection, without buffering it all', async () => {
    const socket = createConnection(path);
    await new Promise<void>((resolve) => socket.once('connect', resolve));
    let reply = '';
    socket.on('data', (d: Buffer) => {
      reply += d.toString();
    });
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    socket.on('error', () => undefined);
    const chunk = Buffer.alloc(64 * 1024, 0x41);
    for (let sent = 0; sent < MAX_MESSAGE_BYTES * 4 && !socket.destroyed; sent += chunk.length) {
      if (!socket.write(chunk)) await new Promise((r) => setTimeout(r, 5));
    }
    await closed;
    expect(reply).toContain('CONTROL_MESSAGE_TOO_LONG');
    const [answer] = await converse(path, [JSON.stringify({ id: 3, method: 'status' })]);
    expect(answer).toMatchObject({ id: 3, error: { code: 'DIAG_NOT_LOGGED_IN' } });
  }, 30_000);
});
