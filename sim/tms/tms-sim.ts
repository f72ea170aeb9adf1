import { EventEmitter } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { listenOn } from '../listen.js';

/** An event as stored by the TMS (docs/protocols/tms-events.md section 2). */
export interface StoredEvent {
  eventId: string;
  type: string;
  terminalId: string;
  occurredAt: number;
  payload: Record<string, unknown>;
  /** How many times it arrived; the TMS counts it once. */
  received: number;
}

export interface TmsDelivery {
  at: number;
  status: number;
  eventIds: string[];
}

/** How the TMS answers: normally, with an HTTP error, or slowly (it stores the batch, then answers late). */
export type TmsBehaviour = { type: 'ok' } | { type: 'error'; status: number } | { type: 'slow'; ms: number };

export interface TmsSimOptions {
  port?: number;
  address?: string;
}

const MAX_BODY = 4 * 1024 * 1024;

export class TmsRequestError extends Error {}

function validEvent(e: unknown): e is Omit<StoredEvent, 'received'> {
  const v = e as Record<string, unknown>;
  return (
    typeof v === 'object' &&
    v !== null &&
    typeof v.eventId === 'string' &&
    v.eventId.length > 0 &&
    typeof v.type === 'string' &&
    v.type.length > 0 &&
    typeof v.terminalId === 'string' &&
    typeof v.occurredAt === 'number' &&
    typeof v.payload === 'object' &&
    v.payload !== null &&
    !Array.isArray(v.payload)
  );
}

/**
 * The simulated terminal-management server: `POST /v1/events` takes a batch and stores each
 * event once by `eventId` (a repeat is acknowledged and ignored), `GET /v1/events` lists
 * them. Tests make it go down (connections refused), answer 5xx, or answer slowly.
 */
export class TmsSim extends EventEmitter {
  readonly events = new Map<string, StoredEvent>();
  readonly deliveries: TmsDelivery[] = [];
  /** What the next requests get once `failures` is used up. */
  behaviour: TmsBehaviour = { type: 'ok' };
  private failures: number[] = [];
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  private boundPort = 0;
  private readonly pending = new Set<NodeJS.Timeout>();

  constructor(private readonly options: TmsSimOptions = {}) {
    super();
  }

  get port(): number {
    return this.boundPort;
  }

  get url(): string {
    return `http://127.0.0.1:${this.boundPort}/v1/events`;
  }

  /** Starts listening; after `down()` it comes back on the same port. */
  async start(): Promise<number> {
    if (this.server) return this.boundPort;
    const server = createServer((req, res) => this.onRequest(req, res));
    server.on('connection', (s: Socket) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    this.boundPort = await listenOn(server, this.boundPort || this.options.port || 0, this.options.address);
    this.server = server;
    return this.boundPort;
  }

  /** The TMS goes down: connections are refused until `start()`. */
  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const t of this.pending) clearTimeout(t);
    this.pending.clear();
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** The next `count` requests are answered with `status` (default 500) and stored nothing. */
  failNext(count: number, status = 500): void {
    for (let i = 0; i < count; i++) this.failures.push(status);
  }

  ofType(type: string): StoredEvent[] {
    return [...this.events.values()].filter((e) => e.type === type);
  }

  /** Resolves once `predicate` holds for the stored events, polling after each delivery. */
  async waitFor(predicate: (events: StoredEvent[]) => boolean, timeoutMs = 20_000): Promise<StoredEvent[]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const all = [...this.events.values()];
      if (predicate(all)) return all;
      if (Date.now() > deadline)
        throw new Error(
          `TMS simulator: condition not met within ${timeoutMs} ms; stored ${all.map((e) => e.eventId).join(', ') || 'nothing'}`,
        );
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  private onRequest(req: IncomingMessage, res: ServerResponse): void {
    const path = (req.url ?? '').split('?')[0];
    if (path !== '/v1/events') return this.answer(res, 404, { error: 'not found' });
    if (req.method === 'GET') return this.answer(res, 200, { events: [...this.events.values()] });
    if (req.method !== 'POST') return this.answer(res, 405, { error: 'method not allowed' });
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) req.destroy(new TmsRequestError('body too large'));
      else chunks.push(c);
    });
    req.on('error', () => undefined);
    req.on('end', () => this.onBatch(Buffer.concat(chunks).toString('utf8'), res));
  }

  private onBatch(body: string, res: ServerResponse): void {
    const failure = this.failures.shift() ?? (this.behaviour.type === 'error' ? this.behaviour.status : undefined);
    if (failure !== undefined) {
      this.deliveries.push({ at: Date.now(), status: failure, eventIds: [] });
      return this.answer(res, failure, { error: 'simulated failure' });
    }
    let events: unknown[];
    try {
      const parsed = JSON.parse(body) as { events?: unknown };
      if (!Array.isArray(parsed.events)) throw new TmsRequestError('events must be an array');
      events = parsed.events;
    } catch (err) {
      return this.answer(res, 400, { error: (err as Error).message });
    }
    // A batch is stored whole or not at all, so a 4xx never leaves half of it behind.
    if (!events.every(validEvent))
      return this.answer(res, 400, { error: 'every event needs eventId, type, terminalId, occurredAt and an object payload' });
    let accepted = 0;
    let duplicates = 0;
    for (const e of events) {
      const seen = this.events.get(e.eventId);
      if (seen) {
        seen.received++;
        duplicates++;
        continue;
      }
      const stored: StoredEvent = {
        eventId: e.eventId,
        type: e.type,
        terminalId: e.terminalId,
        occurredAt: e.occurredAt,
        payload: e.payload,
        received: 1,
      };
      this.events.set(e.eventId, stored);
      accepted++;
      this.emit('event', stored);
    }
    this.deliveries.push({ at: Date.now(), status: 200, eventIds: events.map((e) => e.eventId) });
    const reply = () => this.answer(res, 200, { accepted, duplicates });
    if (this.behaviour.type === 'slow') {
      const t = setTimeout(() => {
        this.pending.delete(t);
        reply();
      }, this.behaviour.ms);
      this.pending.add(t);
    } else {
      reply();
    }
  }

  private answer(res: ServerResponse, status: number, body: unknown): void {
    if (res.destroyed) return;
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  }
}
