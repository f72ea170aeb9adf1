import { chmodSync, lstatSync, unlinkSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { isPosError } from '../../drivers/base/errors.js';
import type { Logger } from '../logging/logger.js';
import { SESSION_METHODS, type DiagnosticsSession, type SessionMethod } from '../ui/diagnostics/session.js';
import { ControlError, LineSplitter, type ControlMessage, type ControlRequest } from './protocol.js';

export interface ControlServerDeps {
  /** A fresh, logged-out session per connection; `actor` is what the audit log records. */
  openSession: (actor: string) => DiagnosticsSession;
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
    this.sockets.add(socket);
    const actor = `control-socket#${++this.connections}`;
    const session = this.deps.openSession(actor);
    const send = (m: ControlMessage) => {
      if (!socket.destroyed) socket.write(`${JSON.stringify(m)}\n`);
    };
    const splitter = new LineSplitter((line) => void this.handle(session, line, send));
    socket.on('data', (chunk: Buffer) => {
      try {
        splitter.push(chunk);
      } catch (err) {
        send({ id: 0, error: { code: isPosError(err) ? err.code : 'CONTROL_ERROR', message: (err as Error).message } });
        socket.destroy();
      }
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      this.sockets.delete(socket);
      void session.logout();
    });
  }

  private async handle(session: DiagnosticsSession, line: string, send: (m: ControlMessage) => void): Promise<void> {
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
