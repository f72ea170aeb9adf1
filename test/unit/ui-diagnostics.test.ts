import { afterEach, describe, expect, it } from 'vitest';
import type { Clock } from '../../drivers/base/clock.js';
import { runDiagnosticsMenu } from '../../firmware-app/ui/diagnostics/menu.js';
import { hashPin, PinGuard, verifyPin } from '../../firmware-app/ui/diagnostics/pin.js';
import { LocalDiagnosticsSession } from '../../firmware-app/ui/diagnostics/session.js';
import { maskSecrets } from '../../firmware-app/ui/diagnostics/process-info.js';
import type { AuditEntry, DiagnosticsPort, DrainProgress, QueueInfo, QueueName } from '../../firmware-app/ui/terminal-port.js';
import { progressBar } from '../../firmware-app/ui/tty.js';
import { FakeTty } from '../support/fake-tty.js';

const CHEAP = { N: 1024, r: 8, p: 1 };
const PIN_HASH = hashPin('2468', CHEAP);

class FakeClock implements Clock {
  t = 1_800_000_000_000;
  now(): number {
    return this.t;
  }
  setTimeout(): object {
    return {};
  }
  clearTimeout(): void {}
}

class FakeDiagPort implements DiagnosticsPort {
  audits: AuditEntry[] = [];
  saf = 3;
  printed = 0;
  async deviceInfo() {
    return {
      terminalId: 'TERM0001',
      merchantId: '000000000000001',
      version: '0.1.0',
      node: 'v20',
      uptimeSeconds: 5,
      schemaVersion: 7,
      reader: { path: '/dev/ttyS1', state: 'connected', vendor: 'SIMCO', model: 'SR-100', serial: 'S1', firmware: '1.0' },
      printer: { path: '/dev/ttyS2', state: 'ready' },
      host: { address: '10.0.0.1', port: 5000, state: 'online' },
    };
  }
  status() {
    return { host: 'online' as const, reader: 'connected', printer: 'ready', safDepth: this.saf };
  }
  async cardReadTest() {
    return { ok: true, maskedPan: '411111******1111', entryMode: 'CHIP' };
  }
  async testPrint() {
    this.printed++;
    return { printed: true };
  }
  async hostEcho() {
    return { ok: true, rttMs: 42, responseCode: '00' };
  }
  queues(): QueueInfo[] {
    return [
      { name: 'saf', count: this.saf, oldestAt: this.saf ? 1_800_000_000_000 - 120_000 : null },
      { name: 'reversals', count: 0, oldestAt: null },
      { name: 'outbox', count: 1, oldestAt: 1_800_000_000_000 - 5000 },
      { name: 'print', count: 0, oldestAt: null },
    ];
  }
  async drain(queue: QueueName, onProgress: (p: DrainProgress) => void) {
    const total = this.saf;
    onProgress({ done: 0, total });
    while (this.saf > 0) {
      this.saf--;
      onProgress({ done: total - this.saf, total });
    }
    return { done: total, total, remaining: 0 };
  }
  declineStats() {
    return [{ code: '51', count: 4, text: 'Insufficient funds', category: 'issuer' }];
  }
  alerts() {
    return [{ id: 1, severity: 'warning', message: 'decline rate 60% over 15 min', raisedAt: 1_800_000_000_000, clearedAt: null }];
  }
  jobs() {
    return [{ job: 'heartbeat', startedAt: 1_800_000_000_000, finishedAt: 1_800_000_000_100, outcome: 'ok', error: null }];
  }
  jobNames() {
    return ['heartbeat', 'settlement'];
  }
  level = 'info';
  setLogLevel(level: string) {
    this.level = level;
    return level;
  }
  async runJob(name: string) {
    return `ok (${name})`;
  }
  logTail() {
    return ['12:00:00 INFO  terminal  terminal ready'];
  }
  config() {
    return maskSecrets({ terminal: { id: 'TERM0001' }, diagnostics: { pinHash: PIN_HASH } }) as Record<string, unknown>;
  }
  async exportBundle() {
    return { path: '/var/lib/pos/diagnostics.json', bytes: 1234 };
  }
  audit(e: AuditEntry): void {
    this.audits.push(e);
  }
}

const guardOpts = { pinHash: PIN_HASH, maxFailures: 5, lockoutMs: 60_000, maxLockoutMs: 3_600_000 };

describe('technician PIN', () => {
  it('verifies against its scrypt hash and refuses others', () => {
    expect(PIN_HASH).toMatch(/^scrypt\$1024\$8\$1\$/);
    expect(verifyPin('2468', PIN_HASH)).toBe(true);
    expect(verifyPin('2469', PIN_HASH)).toBe(false);
    expect(PIN_HASH).not.toContain('2468');
  });

  it('locks after 5 wrong PINs, even for the right PIN, for a delay that grows with each lockout', () => {
    const clock = new FakeClock();
    const guard = new PinGuard(guardOpts, clock);
    for (let i = 4; i >= 1; i--) expect(guard.check('0000')).toEqual({ ok: false, reason: 'wrong-pin', attemptsLeft: i });
    expect(guard.check('0000')).toEqual({ ok: false, reason: 'locked', lockedForMs: 60_000 });
    expect(guard.check('2468')).toMatchObject({ ok: false, reason: 'locked' });
    clock.t += 60_000;
    for (let i = 0; i < 4; i++) guard.check('1111');
    expect(guard.check('1111')).toEqual({ ok: false, reason: 'locked', lockedForMs: 120_000 });
    clock.t += 119_999;
    expect(guard.check('2468')).toMatchObject({ reason: 'locked' });
    clock.t += 1;
    expect(guard.check('2468')).toEqual({ ok: true });
  });

  it('keeps the menu closed when no PIN is configured', () => {
    const guard = new PinGuard({ ...guardOpts, pinHash: '' }, new FakeClock());
    expect(guard.check('')).toEqual({ ok: false, reason: 'not-configured' });
  });
});

describe('diagnostics session', () => {
  it('refuses every action before login and audits the refusal', async () => {
    const port = new FakeDiagPort();
    const session = new LocalDiagnosticsSession(port, new PinGuard(guardOpts, new FakeClock()), 'console');
    await expect(session.testPrint()).rejects.toMatchObject({ code: 'DIAG_NOT_LOGGED_IN' });
    expect(port.printed).toBe(0);
    expect(port.audits).toEqual([{ actor: 'console', action: 'test-print', detail: undefined, outcome: 'refused' }]);
  });

  it('audits login, each action with its outcome, and logout', async () => {
    const port = new FakeDiagPort();
    const session = new LocalDiagnosticsSession(port, new PinGuard(guardOpts, new FakeClock()), 'socket#1');
    await session.login('1357');
    await session.login('2468');
    await session.hostEcho();
    await session.drain('saf', () => undefined);
    await session.logout();
    expect(port.audits.map((a) => [a.action, a.outcome])).toEqual([
      ['login', 'wrong-pin'],
      ['login', 'ok'],
      ['host-echo', 'ok'],
      ['drain', 'ok'],
      ['logout', 'ok'],
    ]);
    expect(port.audits.every((a) => a.actor === 'socket#1')).toBe(true);
    expect(JSON.stringify(port.audits)).not.toContain('1357');
  });
});

describe('diagnostic menu', () => {
  let fake: FakeTty;
  let done: Promise<unknown>;
  afterEach(async () => {
    fake.end();
    await done;
  });

  const open = (port: FakeDiagPort, guard = new PinGuard(guardOpts, new FakeClock())) => {
    fake = new FakeTty();
    done = runDiagnosticsMenu(new LocalDiagnosticsSession(port, guard, 'console'), fake.tty, { clock: new FakeClock() });
  };

  it('shuts the terminal down only from the console, after the PIN and a confirmation, and audits it', async () => {
    const port = new FakeDiagPort();
    fake = new FakeTty();
    const session = new LocalDiagnosticsSession(port, new PinGuard(guardOpts, new FakeClock()), 'console');
    done = runDiagnosticsMenu(session, fake.tty, { clock: new FakeClock(), shutDown: () => session.shutDown() });
    await fake.waitFor(/Technician PIN/);
    fake.enter('2468');
    await fake.waitFor(/\[s\] Shut down terminal/);
    fake.type('s');
    await fake.waitFor(/Enter to shut down, Esc to go back/);
    const mark = fake.mark();
    fake.type('\x1b');
    await fake.waitFor(/\[s\] Shut down terminal/, mark);
    expect(port.audits.map((a) => a.action)).not.toContain('shutdown');
    fake.type('s');
    await fake.waitFor(/Enter to shut down/, mark);
    fake.enter('');
    await expect(done).resolves.toBe('shutdown');
    expect(port.audits.map((a) => [a.action, a.outcome])).toEqual([
      ['login', 'ok'],
      ['shutdown', 'ok'],
      ['logout', 'ok'],
    ]);
  });

  it('offers no shutdown where the menu cannot end the terminal (the remote menu)', async () => {
    open(new FakeDiagPort());
    await fake.waitFor(/Technician PIN/);
    fake.enter('2468');
    await fake.waitFor(/\[x\] Exit technician menu/);
    fake.type('s');
    fake.type('x');
    await expect(done).resolves.toBeUndefined();
    expect(fake.screen).not.toContain('Shut down');
  });

  it('masks the PIN, then runs a test print and a host echo with its round trip', async () => {
    const port = new FakeDiagPort();
    open(port);
    await fake.waitFor(/Technician PIN/);
    fake.enter('2468');
    await fake.waitFor(/\[3\] Test print/);
    expect(fake.screen).toContain('****');
    expect(fake.screen).not.toContain('2468');
    fake.type('3');
    await fake.waitFor(/Test print OK\./);
    expect(port.printed).toBe(1);
    fake.type(' ');
    const mark = fake.mark();
    fake.type('4');
    await fake.waitFor(/Host echo OK: response 00, round trip 42 ms/, mark);
  });

  it('locks the menu after five wrong PINs', async () => {
    const port = new FakeDiagPort();
    open(port);
    for (const pin of ['1', '2', '3', '4']) {
      await fake.waitFor(/Technician PIN/);
      fake.enter(pin);
    }
    await fake.waitFor(/1 attempt\(s\) left/);
    fake.enter('5');
    await fake.waitFor(/Menu LOCKED after repeated wrong PINs\. Try again in 60 s\./);
    expect(port.audits.filter((a) => a.action === 'login').map((a) => a.outcome)).toEqual([
      'wrong-pin',
      'wrong-pin',
      'wrong-pin',
      'wrong-pin',
      'locked',
    ]);
    fake.type(' ');
    await done;
    expect(fake.screen).not.toContain('[1] Device info');
  });

  it('shows queue depths with oldest age and drains SAF with a progress bar', async () => {
    const port = new FakeDiagPort();
    open(port);
    await fake.waitFor(/Technician PIN/);
    fake.enter('2468');
    await fake.waitFor(/\[5\] Queues/);
    fake.type('5');
    await fake.waitFor(/SAF \(offline sales\)\s+3\s+2m/);
    expect(fake.screen).toMatch(/Upstream outbox\s+1\s+5s/);
    fake.type('s');
    await fake.waitFor(/Drained: 3 sent, queue empty\./);
    expect(fake.screen).toContain(progressBar(3, 3));
    await fake.waitFor(/SAF \(offline sales\)\s+0\s+-/);
  });

  it('shows device info, decline statistics, alerts, jobs with run-now, log tail, masked config and bundle export', async () => {
    const port = new FakeDiagPort();
    open(port);
    await fake.waitFor(/Technician PIN/);
    fake.enter('2468');
    const step = async (key: string, expected: RegExp, back = ' ') => {
      const mark = fake.mark();
      fake.type(key);
      await fake.waitFor(expected, mark);
      fake.type(back);
    };
    await fake.waitFor(/\[1\] Device info/);
    await step('1', /SIMCO SR-100 s\/n S1/);
    await step('2', /Card read OK: 411111\*{6}1111 \(CHIP\)/);
    await step('6', /51\s+4\s+issuer\s+Insufficient funds/);
    await step('7', /warning\s+OPEN\s+decline rate 60%/);
    await step('9', /terminal ready/);
    await step('c', /"pinHash": "\*{8}"/);
    await step('e', /Bundle written: \/var\/lib\/pos\/diagnostics\.json \(1234 bytes\)/);
    const mark = fake.mark();
    fake.type('8');
    await fake.waitFor(/\[2\] Run now: settlement/, mark);
    fake.type('2');
    await fake.waitFor(/settlement: ok \(settlement\)/, mark);
    expect(port.audits.map((a) => a.action)).toEqual(
      expect.arrayContaining([
        'device-info',
        'card-read-test',
        'decline-stats',
        'alerts',
        'log-tail',
        'config-view',
        'export-bundle',
        'jobs',
        'run-job',
      ]),
    );
    expect(fake.screen).not.toContain(PIN_HASH);
  });
});

describe('device screen', () => {
  it('refreshes the live status every second until a key is pressed, without auditing each refresh', async () => {
    const timers: (() => void)[] = [];
    const clock: Clock = { now: () => 1_800_000_000_000, setTimeout: (fn) => (timers.push(fn), {}), clearTimeout: () => undefined };
    const port = new FakeDiagPort();
    const fake = new FakeTty();
    const done = runDiagnosticsMenu(new LocalDiagnosticsSession(port, new PinGuard(guardOpts, clock), 'console'), fake.tty, { clock });
    await fake.waitFor(/Technician PIN/);
    fake.enter('2468');
    await fake.waitFor(/\[1\] Device info/);
    fake.type('1');
    await fake.waitFor(/host online \| SAF 3 \| printer ready \| reader connected/);
    port.saf = 5;
    const mark = fake.mark();
    timers.at(-1)!();
    await fake.waitFor(/SAF 5/, mark);
    fake.type(' ');
    await fake.waitFor(/\[x\] Exit technician menu/, mark);
    expect(port.audits.filter((a) => a.action === 'status')).toEqual([]);
    expect(port.audits.filter((a) => a.action === 'device-info')).toHaveLength(1);
    fake.end();
    await done;
  });
});

describe('screen helpers', () => {
  it('draws a progress bar proportional to what is done', () => {
    expect(progressBar(0, 4, 8)).toBe('[........] 0/4');
    expect(progressBar(2, 4, 8)).toBe('[####....] 2/4');
    expect(progressBar(4, 4, 8)).toBe('[########] 4/4');
    expect(progressBar(0, 0, 8)).toBe('[########] 0/0');
  });

  it('masks secret-looking keys at any depth and keeps the rest', () => {
    expect(maskSecrets({ a: { pinHash: 'x', apiToken: 'y', list: [{ password: 'p' }] }, b: 'keep', empty: { secret: '' } })).toEqual({
      a: { pinHash: '********', apiToken: '********', list: [{ password: '********' }] },
      b: 'keep',
      empty: { secret: '' },
    });
  });
});

describe('technician menu in Chinese', () => {
  it('speaks the console language: menu, PIN, screens, tables and states, with figures and codes as they are', async () => {
    const fake = new FakeTty();
    const port = new FakeDiagPort();
    const done = runDiagnosticsMenu(new LocalDiagnosticsSession(port, new PinGuard(guardOpts, new FakeClock()), 'console'), fake.tty, {
      clock: new FakeClock(),
      language: 'zh-CN',
    });
    await fake.waitFor(/维护 - PIN \(本机\)[\s\S]*请输入维护密码 \(Esc 返回\):/);
    fake.enter('1357');
    await fake.waitFor(/密码错误，还可再试 4 次，之后菜单将锁定。/);
    fake.enter('2468');
    await fake.waitFor(/\[1\] 设备信息与实时状态[\s\S]*\[x\] 退出维护菜单[\s\S]*请按键选择。/);
    fake.type('6');
    await fake.waitFor(/代码\s+笔数\s+类别\s+原因\s+51\s+4\s+发卡行\s+余额不足/);
    fake.type(' ');
    await fake.waitFor(/\[5\] 队列/);
    const mark = fake.mark();
    fake.type('5');
    await fake.waitFor(/离线交易\s+3 {2}2m[\s\S]*强制发送: \[s\] 离线交易/, mark);
    const screen = fake.since(mark);
    expect(screen).not.toMatch(/Reversals|Print queue|waiting|oldest/);
    fake.end();
    await done;
  });
});
