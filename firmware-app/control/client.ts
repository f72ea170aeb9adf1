import { lstatSync } from 'node:fs';
import { createConnection, type Socket } from 'node:net';
import { PosError } from '../../drivers/base/errors.js';
import type { LoginResult } from '../ui/diagnostics/pin.js';
import type { DiagnosticsSession } from '../ui/diagnostics/session.js';
import type {
  AlertView,
  BundleResult,
  CardTestResult,
  DeclineStat,
  DeviceInfo,
  DrainProgress,
  DrainResult,
  EchoResult,
  JobRunView,
  QueueInfo,
  QueueName,
  StatusSnapshot,
} from '../ui/terminal-port.js';
import { ControlError, LineSplitter, type ControlMessage } from './protocol.js';

/** An error the terminal answered with, carried back under its own code. */
export class RemoteError extends PosError {}

/**
 * Refuses a socket that is not a socket, or that belongs to another user: otherwise a
 * socket planted by someone else could collect the technician's PIN.
 */
export function checkSocketOwner(path: string, uid: number | undefined = process.getuid?.()): void {
  let st;
  try {
    st = lstatSync(path);
  } catch {
    throw new ControlError('CONTROL_NOT_RUNNING', `no control socket at ${path}: is the terminal running (with this dataDir)?`);
  }
  if (!st.isSocket()) throw new ControlError('CONTROL_NOT_A_SOCKET', `${path} is not a socket`);
  if (uid !== undefined && st.uid !== uid) {
    throw new ControlError('CONTROL_SOCKET_FOREIGN', `${path} belongs to uid ${st.uid}, not to you (uid ${uid}); refusing to connect`);
  }
}

interface Pending {
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
  onProgress?: (p: unknown) => void;
}

/** A technician session inside the running terminal, reached over its control socket. */
export class RemoteSession implements DiagnosticsSession {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private closedError: Error | undefined;

  private constructor(private readonly socket: Socket) {
    const splitter = new LineSplitter((line) => this.onMessage(JSON.parse(line) as ControlMessage));
    socket.on('data', (chunk: Buffer) => splitter.push(chunk));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      this.closedError = new ControlError('CONTROL_CLOSED', 'the terminal closed the control connection');
      for (const p of this.pending.values()) p.reject(this.closedError);
      this.pending.clear();
    });
  }

  static connect(path: string): Promise<RemoteSession> {
    checkSocketOwner(path);
    return new Promise((resolve, reject) => {
      const socket = createConnection(path);
      socket.once('connect', () => resolve(new RemoteSession(socket)));
      socket.once('error', (err) => reject(new ControlError('CONTROL_CONNECT_FAILED', `cannot connect to ${path}: ${err.message}`)));
    });
  }

  onClose(listener: () => void): void {
    this.socket.once('close', listener);
  }

  close(): void {
    this.socket.end();
  }

  private onMessage(m: ControlMessage): void {
    const p = this.pending.get(m.id);
    if (!p) return;
    if ('progress' in m) {
      p.onProgress?.(m.progress);
      return;
    }
    this.pending.delete(m.id);
    if ('error' in m) p.reject(new RemoteError(m.error.code, m.error.message));
    else p.resolve(m.result);
  }

  private call<T>(method: string, params: unknown[] = [], onProgress?: (p: unknown) => void): Promise<T> {
    if (this.closedError) return Promise.reject(this.closedError);
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject, onProgress });
      this.socket.write(`${JSON.stringify({ id, method, params })}\n`);
    });
  }

  login(pin: string): Promise<LoginResult> {
    return this.call('login', [pin]);
  }
  deviceInfo(): Promise<DeviceInfo> {
    return this.call('deviceInfo');
  }
  status(): Promise<StatusSnapshot> {
    return this.call('status');
  }
  cardReadTest(): Promise<CardTestResult> {
    return this.call('cardReadTest');
  }
  testPrint(): Promise<{ printed: boolean; error?: string }> {
    return this.call('testPrint');
  }
  hostEcho(): Promise<EchoResult> {
    return this.call('hostEcho');
  }
  queues(): Promise<QueueInfo[]> {
    return this.call('queues');
  }
  drain(queue: QueueName, onProgress: (p: DrainProgress) => void): Promise<DrainResult> {
    return this.call('drain', [queue], (p) => onProgress(p as DrainProgress));
  }
  declineStats(): Promise<DeclineStat[]> {
    return this.call('declineStats');
  }
  alerts(): Promise<AlertView[]> {
    return this.call('alerts');
  }
  jobs(): Promise<{ runs: JobRunView[]; names: string[] }> {
    return this.call('jobs');
  }
  runJob(name: string): Promise<string> {
    return this.call('runJob', [name]);
  }
  logTail(lines: number): Promise<string[]> {
    return this.call('logTail', [lines]);
  }
  setLogLevel(level: string): Promise<string> {
    return this.call('setLogLevel', [level]);
  }
  config(): Promise<Record<string, unknown>> {
    return this.call('config');
  }
  exportBundle(): Promise<BundleResult> {
    return this.call('exportBundle');
  }
  logout(): Promise<void> {
    return this.call('logout');
  }
}
