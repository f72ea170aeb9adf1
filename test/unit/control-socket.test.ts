import { linkSync, mkdtempSync, statSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../drivers/base/logger.js';
import { checkSocketOwner, RemoteSession } from '../../firmware-app/control/client.js';
import { ControlServer } from '../../firmware-app/control/server.js';
import { onFirstUse } from '../../firmware-app/load-on-demand.js';
import { hashPin, PinGuard } from '../../firmware-app/ui/diagnostics/pin.js';
import { LocalDiagnosticsSession } from '../../firmware-app/ui/diagnostics/session.js';
import type { AuditEntry, DiagnosticsPort, DrainProgress } from '../../firmware-app/ui/terminal-port.js';

const PIN_HASH = hashPin('2468', { N: 1024, r: 8, p: 1 });

function fakePort(audits: AuditEntry[]): DiagnosticsPort {
  let saf = 2;
  const reject = () => Promise.reject(new Error('not used'));
  return {
    deviceInfo: reject,
    status: () => ({ host: 'online', reader: 'connected', printer: 'ready', safDepth: saf }),
    cardReadTest: reject,
    testPrint: async () => ({ printed: true }),
    hostEcho: async () => ({ ok: true, rttMs: 7, responseCode: '00' }),
    queues: () => [{ name: 'saf', count: saf, oldestAt: null }],
    drain: async (_q, onProgress: (p: DrainProgress) => void) => {
      const total = saf;
      while (saf > 0) {
        saf--;
        onProgress({ done: total - saf, total });
      }
      return { done: total, total, remaining: 0 };
    },
    declineStats: () => [],
    alerts: () => [],
    jobs: () => [],
    jobNames: () => [],
    runJob: reject,
    logTail: () => [],
    setLogLevel: (level: string) => level,
    config: () => ({}),
    exportBundle: reject,
    audit: (e) => audits.push(e),
  };
}

describe('control socket', () => {
  let server: ControlServer | undefined;
  let session: RemoteSession | undefined;
  const audits: AuditEntry[] = [];

  afterEach(async () => {
    session?.close();
    await server?.stop();
    server = undefined;
    session = undefined;
    audits.length = 0;
  });

  const start = async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'pos-ctl-')), 'control.sock');
    const guard = new PinGuard(
      { pinHash: PIN_HASH, maxFailures: 5, lockoutMs: 60_000, maxLockoutMs: 3_600_000 },
      { now: () => 0, setTimeout: () => ({}), clearTimeout: () => undefined },
    );
    server = new ControlServer(path, {
      logger: silentLogger,
      openSession: (actor) => new LocalDiagnosticsSession(fakePort(audits), guard, actor),
    });
    await server.start();
    return path;
  };

  it('is created mode 0600', async () => {
    const path = await start();
    const st = statSync(path);
    expect(st.isSocket()).toBe(true);
    expect(st.mode & 0o777).toBe(0o600);
  });

  it('answers nothing but login until the PIN is accepted, then streams drain progress', async () => {
    const path = await start();
    session = await RemoteSession.connect(path);
    await expect(session.hostEcho()).rejects.toMatchObject({ code: 'DIAG_NOT_LOGGED_IN' });
    expect(await session.login('1111')).toEqual({ ok: false, reason: 'wrong-pin', attemptsLeft: 4 });
    expect(await session.login('2468')).toEqual({ ok: true });
    expect(await session.hostEcho()).toEqual({ ok: true, rttMs: 7, responseCode: '00' });
    const progress: DrainProgress[] = [];
    expect(await session.drain('saf', (p) => progress.push(p))).toEqual({ done: 2, total: 2, remaining: 0 });
    expect(progress).toEqual([
      { done: 1, total: 2 },
      { done: 2, total: 2 },
    ]);
    expect(await session.setLogLevel('debug')).toBe('debug');
    expect(audits.map((a) => `${a.actor} ${a.action} ${a.outcome}`)).toEqual([
      'control-socket#1 host-echo refused',
      'control-socket#1 login wrong-pin',
      'control-socket#1 login ok',
      'control-socket#1 host-echo ok',
      'control-socket#1 drain ok',
      'control-socket#1 set-log-level ok',
    ]);
  });

  it('does not carry a login over to a new connection', async () => {
    const path = await start();
    session = await RemoteSession.connect(path);
    await session.login('2468');
    const second = await RemoteSession.connect(path);
    try {
      await expect(second.testPrint()).rejects.toMatchObject({ code: 'DIAG_NOT_LOGGED_IN' });
    } finally {
      second.close();
    }
  });

  it('refuses unknown methods and malformed requests', async () => {
    const path = await start();
    const replies = await new Promise<string[]>((resolve) => {
      const s = createConnection(path);
      let got = '';
      s.on('data', (d: Buffer) => {
        got += d.toString();
        const lines = got.trim().split('\n');
        if (lines.length === 2) {
          s.destroy();
          resolve(lines);
        }
      });
      s.write('{"id":1,"method":"constructor","params":[]}\nnot json\n');
    });
    expect(replies.map((r) => (JSON.parse(r) as { error: { code: string } }).error.code).sort()).toEqual([
      'CONTROL_BAD_REQUEST',
      'CONTROL_UNKNOWN_METHOD',
    ]);
  });

  it('answers every request with the typed error when the session cannot be loaded, and opens one on the next connection', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'pos-ctl-')), 'control.sock');
    const guard = new PinGuard(
      { pinHash: PIN_HASH, maxFailures: 5, lockoutMs: 60_000, maxLockoutMs: 3_600_000 },
      { now: () => 0, setTimeout: () => ({}), clearTimeout: () => undefined },
    );
    // The installed copy misses the session's module until the technician's second try.
    let gone = true;
    const technician = onFirstUse(
      'the cashier and technician screens',
      () => import(gone ? `../../firmware-app/ui/diagnostics/${'gone'}.js` : '../../firmware-app/ui/diagnostics/session.js'),
    );
    server = new ControlServer(path, {
      logger: silentLogger,
      openSession: async (actor) => {
        await technician();
        return new LocalDiagnosticsSession(fakePort(audits), guard, actor);
      },
    });
    await server.start();
    session = await RemoteSession.connect(path);
    await expect(session.login('2468')).rejects.toMatchObject({ code: 'MODULE_LOAD_FAILED' });
    await expect(session.hostEcho()).rejects.toThrow(/the cashier and technician screens could not be loaded/);
    session.close();
    gone = false;
    session = await RemoteSession.connect(path);
    expect(await session.login('2468')).toEqual({ ok: true });
    expect(await session.hostEcho()).toEqual({ ok: true, rttMs: 7, responseCode: '00' });
  });

  it('replaces a stale socket file but refuses one a live terminal is serving', async () => {
    const path = await start();
    const second = new ControlServer(path, {
      logger: silentLogger,
      openSession: () => {
        throw new Error('unused');
      },
    });
    await expect(second.start()).rejects.toMatchObject({ code: 'CONTROL_SOCKET_IN_USE' });
    // A second name for the socket outlives the server, like the file a killed terminal leaves behind.
    const stale = `${path}.stale`;
    linkSync(path, stale);
    await server!.stop();
    server = undefined;
    expect(statSync(stale).isSocket()).toBe(true);
    const again = new ControlServer(stale, {
      logger: silentLogger,
      openSession: () => {
        throw new Error('unused');
      },
    });
    await again.start();
    await again.stop();
  });

  it('the client refuses a socket owned by someone else, or a path that is not a socket', async () => {
    const path = await start();
    const uid = statSync(path).uid;
    expect(() => checkSocketOwner(path, uid)).not.toThrow();
    expect(() => checkSocketOwner(path, uid + 1)).toThrow(expect.objectContaining({ code: 'CONTROL_SOCKET_FOREIGN' }));
    const file = join(mkdtempSync(join(tmpdir(), 'pos-ctl-')), 'plain');
    writeFileSync(file, '');
    expect(() => checkSocketOwner(file, uid)).toThrow(expect.objectContaining({ code: 'CONTROL_NOT_A_SOCKET' }));
    expect(() => checkSocketOwner(`${file}.missing`, uid)).toThrow(expect.objectContaining({ code: 'CONTROL_NOT_RUNNING' }));
  });
});
