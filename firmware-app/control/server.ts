import { chmodSync, lstatSync, unlinkSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { isPosError } from '../../drivers/base/errors.js';
import type { Logger } from '../logging/logger.js';
import type { DiagnosticsSession } from '../ui/diagnostics/session.js';
import { ControlError, LineSplitter, SESSION_METHODS, type ControlMessage, type ControlRequest, type SessionMethod } from './protocol.js';

/**
 * Bounds on what one client can make the terminal do: the socket lives in the same event
 * loop as the payments, so a flood must cost little and end soon.
 */
export const CONTROL_LIMITS = {
  /** Technician sessions at once; more are answered CONTROL_BUSY and closed. */
  connections: 4,
  /** Requests waiting on one connection (they run one at a time); more closes it. */
  queuedRequests: 64,
  /** Error answers on one connection (refused, malformed, unknown); the last one closes it. */
  errors: 32,
} as const;

export interface ControlServerDeps {
  /**
   * A fresh, logged-out session per connection; `actor` is what the audit log records. It may
   * be loaded on the first connection: a failure to open one is each request's error.
   */
  openSession: (actor: string) => DiagnosticsSession | Promise<DiagnosticsSession>;
  logger: Logger;
}

/** Whether something answers on a Unix socket path (a terminal already running there). */
function answers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createConnection(path);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/**
 * The local control socket `npm run diag` connects to: a Unix socket created mode 0600, so
 * only the terminal's own user (and root) can open it. Each connection is one technician
 * session and must log in with the PIN before anything else answers.
 */
export class ControlServer {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  private connections = 0;
  private turnedAway = 0;

  constructor(
    readonly path: string,
    private readonly deps: ControlServerDeps,
  ) {}

  async start(): Promise<void> {
    await this.clearStale();
    const server = createServer((socket) => this.onConnection(socket));
    // The umask closes the window between bind() and chmod() in which the socket would be group/world accessible.
    const umask = process.umask(0o177);
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(this.path, () => resolve());
      });
    } finally {
      process.umask(umask);
    }
    chmodSync(this.path, 0o600);
    this.server = server;
    this.deps.logger.info({ path: this.path }, 'control socket listening');
  }

  private async clearStale(): Promise<void> {
    let st;
    try {
      st = lstatSync(this.path);
    } catch {
      return;
    }
    if (!st.isSocket()) throw new ControlError('CONTROL_PATH_TAKEN', `${this.path} exists and is not a socket; refusing to replace it`);
    if (typeof process.getuid === 'function' && st.uid !== process.getuid()) {
      throw new ControlError('CONTROL_SOCKET_FOREIGN', `${this.path} belongs to uid ${st.uid}, not this process; refusing to replace it`);
    }
    if (await answers(this.path)) throw new ControlError('CONTROL_SOCKET_IN_USE', `another process is serving ${this.path}`);
    unlinkSync(this.path);
  }

  private onConnection(socket: Socket): void {
    socket.on('error', () => undefined);
    const reject = (code: string, message: string) => {
      if (!socket.destroyed) socket.end(`${JSON.stringify({ id: 0, error: { code, message } })}\n`);
      setImmediate(() => socket.destroy());
    };
    if (this.sockets.size >= CONTROL_LIMITS.connections) {
      // Logged at the first and then every hundredth, so the refusals cannot flood the log either.
      if (this.turnedAway++ % 100 === 0) this.deps.logger.warn({ turnedAway: this.turnedAway }, 'control socket busy: connection refused');
      reject('CONTROL_BUSY', `at most ${CONTROL_LIMITS.connections} technician sessions at once`);
      return;
    }
    this.sockets.add(socket);
    const actor = `control-socket#${++this.connections}`;
    const session = Promise.resolve().then(() => this.deps.openSession(actor));
    // Answered to each request (handle); nothing else waits on a session that could not open.
    session.catch(() => undefined);
    let errors = 0;
    const send = (m: ControlMessage) => {
      if (socket.destroyed) return;
      socket.write(`${JSON.stringify(m)}\n`);
      if ('error' in m && ++errors >= CONTROL_LIMITS.errors) reject('CONTROL_TOO_MANY_ERRORS', 'too many refused requests; reconnect');
    };
    const queue: string[] = [];
    let running = false;
    const pump = async () => {
      if (running) return;
      running = true;
      while (queue.length > 0 && !socket.destroyed) {
        await this.handle(session, queue.shift()!, send);
        // Between two requests of one client, everything else (a payment) gets its turn.
        await new Promise((r) => setImmediate(r));
      }
      running = false;
    };
    const splitter = new LineSplitter((line) => {
      if (queue.length >= CONTROL_LIMITS.queuedRequests) throw new ControlError('CONTROL_FLOOD', 'too many requests waiting; reconnect');
      queue.push(line);
      void pump();
    });
    socket.on('data', (chunk: Buffer) => {
      if (socket.destroyed) return;
      try {
        splitter.push(chunk);
      } catch (err) {
        queue.length = 0;
        reject(isPosError(err) ? err.code : 'CONTROL_ERROR', (err as Error).message);
      }
    });
    socket.on('close', () => {
      queue.length = 0;
      this.sockets.delete(socket);
      void session.then(
        (s) => s.logout(),
        () => undefined,
      );
    });
  }

  private async handle(opening: Promise<DiagnosticsSession>, line: string, send: (m: ControlMessage) => void): Promise<void> {
    let req: ControlRequest;
    try {
      req = JSON.parse(line) as ControlRequest;
      if (typeof req !== 'object' || req === null || typeof req.id !== 'number' || typeof req.method !== 'string')
        throw new Error('bad shape');
    } catch {
      send({ id: 0, error: { code: 'CONTROL_BAD_REQUEST', message: 'expected {"id": number, "method": string, "params": [...]}' } });
      return;
    }
    const { id } = req;
    if (!(SESSION_METHODS as readonly string[]).includes(req.method)) {
      send({ id, error: { code: 'CONTROL_UNKNOWN_METHOD', message: `unknown method ${req.method.slice(0, 40)}` } });
      return;
    }
    const method = req.method as SessionMethod;
    const params = Array.isArray(req.params) ? req.params : [];
    try {
      const session = await opening;
      const result =
        method === 'drain'
          ? await session.drain(params[0] as never, (p) => send({ id, progress: p }))
          : await (session[method] as (...a: unknown[]) => Promise<unknown>).apply(session, params);
      send({ id, result: result ?? null });
    } catch (err) {
      send({
        id,
        error: { code: isPosError(err) ? err.code : 'CONTROL_ERROR', message: isPosError(err) ? err.message : 'internal error' },
      });
      if (!isPosError(err)) this.deps.logger.warn({ err, method }, 'control request failed');
    }
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const s of this.sockets) s.destroy();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
