import { isPosError, PosError } from '../../../drivers/base/errors.js';
import type {
  AlertView,
  AuditEntry,
  BundleResult,
  CardTestResult,
  DeclineStat,
  DeviceInfo,
  DiagnosticsPort,
  DrainProgress,
  DrainResult,
  EchoResult,
  JobRunView,
  QueueInfo,
  QueueName,
  StatusSnapshot,
} from '../terminal-port.js';
import { QUEUE_NAMES } from '../terminal-port.js';
import type { LoginResult, PinGuard } from './pin.js';

/**
 * What the diagnostic menu talks to. Asynchronous throughout so the same menu runs in the
 * terminal process (a local session) and in `npm run diag` (a session over the control socket).
 */
export interface DiagnosticsSession {
  login(pin: string): Promise<LoginResult>;
  deviceInfo(): Promise<DeviceInfo>;
  status(): Promise<StatusSnapshot>;
  cardReadTest(): Promise<CardTestResult>;
  testPrint(): Promise<{ printed: boolean; error?: string }>;
  hostEcho(): Promise<EchoResult>;
  queues(): Promise<QueueInfo[]>;
  drain(queue: QueueName, onProgress: (p: DrainProgress) => void): Promise<DrainResult>;
  declineStats(): Promise<DeclineStat[]>;
  alerts(): Promise<AlertView[]>;
  jobs(): Promise<{ runs: JobRunView[]; names: string[] }>;
  runJob(name: string): Promise<string>;
  logTail(lines: number): Promise<string[]>;
  setLogLevel(level: string): Promise<string>;
  config(): Promise<Record<string, unknown>>;
  exportBundle(): Promise<BundleResult>;
  logout(): Promise<void>;
}

export class NotLoggedInError extends PosError {
  constructor() {
    super('DIAG_NOT_LOGGED_IN', 'technician PIN required');
  }
}

export class BadRequestError extends PosError {
  constructor(message: string) {
    super('DIAG_BAD_REQUEST', message);
  }
}

/**
 * A technician's session inside the terminal process: nothing but `login` works before
 * the PIN is accepted, and every call, allowed or refused, is written to `audit_log`.
 */
export class LocalDiagnosticsSession implements DiagnosticsSession {
  private loggedIn = false;
  /** Refusals after the first one of this session, written as one summary row when it ends. */
  private unaudited = 0;
  private refusalAudited = false;

  constructor(
    private readonly port: DiagnosticsPort,
    private readonly guard: PinGuard,
    /** Who is at the keyboard: `console`, or `socket uid=1000 pid=...`. */
    private readonly actor: string,
  ) {}

  login(pin: string): Promise<LoginResult> {
    try {
      return Promise.resolve(this.checkPin(pin));
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
  }

  private checkPin(pin: string): LoginResult {
    if (typeof pin !== 'string') throw new BadRequestError('pin must be a string');
    const result = this.guard.check(pin);
    this.loggedIn = result.ok;
    const detail = result.ok
      ? undefined
      : result.reason === 'wrong-pin'
        ? { attemptsLeft: result.attemptsLeft }
        : result.reason === 'locked'
          ? { lockedForMs: result.lockedForMs }
          : undefined;
    const entry = { actor: this.actor, action: 'login', detail, outcome: result.ok ? 'ok' : result.reason };
    // Wrong PINs are few before the lockout; the attempts during it are a flood, summarized.
    if (!result.ok && result.reason === 'locked') this.auditRefusal(entry);
    else this.port.audit(entry);
    return result;
  }

  logout(): Promise<void> {
    if (this.loggedIn) this.port.audit({ actor: this.actor, action: 'logout', outcome: 'ok' });
    this.loggedIn = false;
    if (this.unaudited > 0) {
      this.port.audit({ actor: this.actor, action: 'refusals', detail: { count: this.unaudited }, outcome: 'refused' });
      this.unaudited = 0;
    }
    return Promise.resolve();
  }

  /**
   * Each audit row is a durable commit. A client hammering the socket without the PIN must
   * not turn into thousands of fsyncs in the payment's path: the first refusal is written as
   * it happens, the rest counted and written as one row when the session ends.
   */
  private auditRefusal(entry: AuditEntry): void {
    if (this.refusalAudited) {
      this.unaudited++;
      return;
    }
    this.refusalAudited = true;
    this.port.audit(entry);
  }

  deviceInfo(): Promise<DeviceInfo> {
    return this.run('device-info', undefined, () => this.port.deviceInfo());
  }

  /**
   * The device screen polls this every second, so it is not audited call by call: opening
   * the screen is (as `device-info`). It still needs the PIN.
   */
  async status(): Promise<StatusSnapshot> {
    if (!this.loggedIn) return this.run('status', undefined, () => this.port.status());
    return this.port.status();
  }

  cardReadTest(): Promise<CardTestResult> {
    return this.run(
      'card-read-test',
      undefined,
      () => this.port.cardReadTest(),
      (r) => (r.ok ? 'ok' : 'failed'),
    );
  }

  testPrint(): Promise<{ printed: boolean; error?: string }> {
    return this.run(
      'test-print',
      undefined,
      () => this.port.testPrint(),
      (r) => (r.printed ? 'ok' : 'failed'),
    );
  }

  hostEcho(): Promise<EchoResult> {
    return this.run(
      'host-echo',
      undefined,
      () => this.port.hostEcho(),
      (r) => (r.ok ? 'ok' : 'failed'),
    );
  }

  queues(): Promise<QueueInfo[]> {
    return this.run('queues', undefined, () => this.port.queues());
  }

  drain(queue: QueueName, onProgress: (p: DrainProgress) => void): Promise<DrainResult> {
    if (!QUEUE_NAMES.includes(queue)) return Promise.reject(new BadRequestError(`unknown queue ${String(queue)}`));
    return this.run(
      'drain',
      { queue },
      () => this.port.drain(queue, onProgress),
      (r) => (r.remaining === 0 ? 'ok' : `remaining ${r.remaining}`),
    );
  }

  declineStats(): Promise<DeclineStat[]> {
    return this.run('decline-stats', undefined, () => this.port.declineStats());
  }

  alerts(): Promise<AlertView[]> {
    return this.run('alerts', undefined, () => this.port.alerts());
  }

  jobs(): Promise<{ runs: JobRunView[]; names: string[] }> {
    return this.run('jobs', undefined, () => ({ runs: this.port.jobs(), names: this.port.jobNames() }));
  }

  runJob(name: string): Promise<string> {
    if (typeof name !== 'string') return Promise.reject(new BadRequestError('job name must be a string'));
    return this.run('run-job', { job: name }, () => this.port.runJob(name));
  }

  logTail(lines: number): Promise<string[]> {
    const n = Number.isSafeInteger(lines) ? Math.min(Math.max(lines, 1), 500) : 40;
    return this.run('log-tail', { lines: n }, () => this.port.logTail(n));
  }

  setLogLevel(level: string): Promise<string> {
    if (typeof level !== 'string') return Promise.reject(new BadRequestError('level must be a string'));
    return this.run('set-log-level', { level: level.slice(0, 16) }, () => this.port.setLogLevel(level));
  }

  config(): Promise<Record<string, unknown>> {
    return this.run('config-view', undefined, () => this.port.config());
  }

  exportBundle(): Promise<BundleResult> {
    return this.run('export-bundle', undefined, () => this.port.exportBundle());
  }

  /**
   * Writes the technician's shutdown to the audit log (the PIN is needed like for any
   * other call); the console then ends the process. Not a remote method: see SESSION_METHODS (control/protocol.ts).
   */
  shutDown(): Promise<void> {
    return this.run('shutdown', undefined, () => undefined);
  }

  private async run<T>(
    action: string,
    detail: Record<string, unknown> | undefined,
    fn: () => Promise<T> | T,
    outcome: (r: T) => string = () => 'ok',
  ): Promise<T> {
    if (!this.loggedIn) {
      this.auditRefusal({ actor: this.actor, action, detail, outcome: 'refused' });
      throw new NotLoggedInError();
    }
    try {
      const result = await fn();
      this.port.audit({ actor: this.actor, action, detail, outcome: outcome(result) });
      return result;
    } catch (err) {
      this.port.audit({ actor: this.actor, action, detail: { ...detail, error: isPosError(err) ? err.code : 'ERROR' }, outcome: 'error' });
      throw err;
    }
  }
}
