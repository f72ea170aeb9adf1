import { EventEmitter } from 'node:events';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { SimError } from '../errors.js';
import { createServer, type Server, type Socket } from 'node:net';
import { listenOn } from '../listen.js';
import { decode, encode, SimCodecError, type WireMessage, type WireValue } from './codec.js';
import type { HostLedger, LedgerSnapshot } from './ledger.js';
import { AcquirerRules, classOf, type AcquirerRulesOptions, type HostMtiClass } from './rules.js';

export type { HostMtiClass } from './rules.js';

/** A request or answer as the simulated host holds it (its own codec's type). */
export type IsoMessage = WireMessage;

/** What the host does with the next request of a class. */
export type HostAction =
  /** Decide by the rules (card, amount, ledger). */
  | { type: 'approve' }
  /** Answer with this field-39 code (what it means depends on the message, see the protocol document). */
  | { type: 'decline'; code: string }
  /** Process the request (post, reverse, ...) but lose the answer on the way back. */
  | { type: 'drop' }
  | { type: 'delay'; ms: number; then?: HostAction }
  /** Close the connection instead of answering (nothing processed). */
  | { type: 'close' }
  /** Process the request, send the first half of the answer, then close the connection. */
  | { type: 'close-mid-frame' }
  /** Process the request and send the answer twice. */
  | { type: 'duplicate' }
  /** Process the request and send an unreadable frame before the answer. */
  | { type: 'garbage' }
  /**
   * Process the request (by the rules, or with `code` as field 39), then change the answer
   * before it leaves: `set` changes or adds fields, `remove` takes them out. What a host
   * that does not follow the protocol document would send.
   */
  | { type: 'tamper'; set?: Record<number, WireValue>; remove?: number[]; code?: string };

export interface ReceivedRequest {
  message: IsoMessage;
  at: number;
}

export interface HostSimOptions extends AcquirerRulesOptions {
  port?: number;
  address?: string;
  /**
   * The ledger file (docs/protocols/host-iso8583.md section 9.2), for `npm run reconcile`.
   * An existing file is read at start, so the postings of earlier runs are kept (the host
   * remembers them, as a real one does); the file is rewritten after every request.
   */
  ledgerFile?: string;
}

/** The ledger file exists but is not a ledger snapshot: the host refuses to start rather than empty it. */
export class LedgerFileError extends SimError {
  constructor(file: string, problem: string) {
    super('SIM_LEDGER_FILE', `${file} is not a host ledger (${problem}); move it away or name another --ledger-file`, { file });
  }
}

/**
 * The simulated acquirer host: ISO 8583 over TCP with the same 2-byte framing as the real
 * link, a ledger of postings, and scriptable behaviour per request class. Built from
 * docs/protocols/host-iso8583.md alone (its own codec in codec.ts, its rules in rules.ts,
 * plus the simulator's card key).
 *
 * Events: 'request' (IsoMessage), 'bad-frame' (SimCodecError: an unreadable request),
 * 'bad-answer' (SimCodecError: a tampered answer that cannot be encoded, not sent), 'unsupported' (MTI).
 */
export class HostSim extends EventEmitter {
  readonly received: ReceivedRequest[] = [];
  private readonly rules: AcquirerRules;
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  private readonly scripts: Record<HostMtiClass, HostAction[]> = { '0200': [], '0220': [], '0400': [], '0500': [], '0800': [] };
  /** Used when a class's script is empty (0200 uses `defaultAction`). */
  readonly defaults: Partial<Record<HostMtiClass, HostAction>> = {};
  private boundPort = 0;
  /** Called synchronously as each request arrives, before it is processed. */
  private readonly observers: ((msg: IsoMessage) => void)[] = [];
  /** What a 0200 gets when the script is empty. */
  defaultAction: HostAction = { type: 'approve' };

  constructor(private readonly options: HostSimOptions = {}) {
    super();
    this.rules = new AcquirerRules(options);
    if (options.ledgerFile && existsSync(options.ledgerFile)) this.restoreLedger(options.ledgerFile);
  }

  private restoreLedger(file: string): void {
    let snapshot: LedgerSnapshot;
    try {
      snapshot = JSON.parse(readFileSync(file, 'utf8')) as LedgerSnapshot;
    } catch (err) {
      throw new LedgerFileError(file, (err as Error).message);
    }
    if (!Array.isArray(snapshot.entries) || !Array.isArray(snapshot.reversals) || !Array.isArray(snapshot.settlements)) {
      throw new LedgerFileError(file, 'no entries, reversals and settlements arrays');
    }
    this.ledger.restore(snapshot);
    this.rules.resumeCounters();
  }

  get ledger(): HostLedger {
    return this.rules.ledger;
  }

  get port(): number {
    return this.boundPort;
  }

  get listening(): boolean {
    return this.server !== undefined;
  }

  /** Listens; after a stop() it listens on the same port again, so terminals reconnect to it. */
  async start(): Promise<number> {
    const server = createServer((socket) => this.onConnection(socket));
    this.boundPort = await listenOn(server, this.boundPort || this.options.port || 0, this.options.address);
    this.server = server;
    return this.boundPort;
  }

  /** The host goes down: stops listening (connections are refused) and drops every connection. */
  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** The next 0210 to a verified ARQC carries this issuer script template (71 or 72, whole TLV) in field 55. */
  queueIssuerScript(template: Buffer): void {
    this.rules.issuerScripts.push(template);
  }

  /** Queue actions for the next 0200s, in order. */
  queue(...actions: HostAction[]): void {
    this.queueFor('0200', ...actions);
  }

  /** Queue actions for the next requests of one class, in order. */
  queueFor(mtiClass: HostMtiClass, ...actions: HostAction[]): void {
    this.scripts[mtiClass].push(...actions);
  }

  onRequest(observer: (msg: IsoMessage) => void): void {
    this.observers.push(observer);
  }

  /** Writes the ledger snapshot to `file` (format: docs/protocols/host-iso8583.md section 9.2). */
  writeLedger(file: string): void {
    writeFileSync(file, `${JSON.stringify(this.ledger.snapshot(), null, 2)}\n`);
  }

  private onConnection(socket: Socket): void {
    this.sockets.add(socket);
    // Answers leave at once, as the terminal's requests do: with Nagle, an answer written
    // while the previous one is unacknowledged waits for the terminal's delayed ACK.
    socket.setNoDelay(true);
    let rx = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      rx = Buffer.concat([rx, chunk]);
      while (rx.length >= 2) {
        const len = rx.readUInt16BE(0);
        if (rx.length < 2 + len) break;
        const frame = Buffer.from(rx.subarray(2, 2 + len));
        rx = rx.subarray(2 + len);
        this.onFrame(socket, frame);
      }
    });
    socket.on('error', () => undefined);
    socket.on('close', () => this.sockets.delete(socket));
  }

  private frame(msg: IsoMessage): Buffer {
    const body = encode(msg);
    const header = Buffer.alloc(2);
    header.writeUInt16BE(body.length);
    return Buffer.concat([header, body]);
  }

  private onFrame(socket: Socket, frame: Buffer): void {
    let msg: IsoMessage;
    try {
      msg = decode(frame);
    } catch (err) {
      if (err instanceof SimCodecError) {
        this.emit('bad-frame', err);
        return;
      }
      throw err;
    }
    for (const o of this.observers) o(msg);
    this.received.push({ message: msg, at: Date.now() });
    this.emit('request', msg);
    const mtiClass = classOf(msg.mti);
    if (!mtiClass) {
      this.emit('unsupported', msg.mti);
      return;
    }
    const action = this.scripts[mtiClass].shift() ?? this.defaultFor(mtiClass);
    this.perform(socket, msg, mtiClass, action);
  }

  private defaultFor(mtiClass: HostMtiClass): HostAction {
    return mtiClass === '0200' ? this.defaultAction : (this.defaults[mtiClass] ?? { type: 'approve' });
  }

  private perform(socket: Socket, msg: IsoMessage, mtiClass: HostMtiClass, action: HostAction): void {
    if (action.type === 'delay') {
      setTimeout(() => this.perform(socket, msg, mtiClass, action.then ?? this.defaultFor(mtiClass)), action.ms);
      return;
    }
    if (action.type === 'close') {
      socket.destroy();
      return;
    }
    const forced = action.type === 'decline' || action.type === 'tamper' ? action.code : undefined;
    const answer = this.rules.process(msg, mtiClass, forced);
    if (this.options.ledgerFile) this.writeLedger(this.options.ledgerFile);
    if (socket.destroyed || action.type === 'drop') return;
    let bytes: Buffer;
    try {
      bytes = this.frame(action.type === 'tamper' ? tampered(answer, action) : answer);
    } catch (err) {
      // A scripted value the wire cannot carry: the answer is lost, as with 'drop', and said so.
      if (!(err instanceof SimCodecError)) throw err;
      this.emit('bad-answer', err);
      return;
    }
    switch (action.type) {
      case 'close-mid-frame':
        socket.write(bytes.subarray(0, Math.ceil(bytes.length / 2)), () => socket.destroy());
        return;
      case 'duplicate':
        socket.write(bytes);
        socket.write(bytes);
        return;
      case 'garbage': {
        const junk = Buffer.from('this is not ISO 8583');
        const header = Buffer.alloc(2);
        header.writeUInt16BE(junk.length);
        socket.write(Buffer.concat([header, junk, bytes]));
        return;
      }
      default:
        socket.write(bytes);
    }
  }
}

function tampered(answer: IsoMessage, t: { set?: Record<number, WireValue>; remove?: number[] }): IsoMessage {
  const fields = new Map(answer.fields);
  for (const [n, v] of Object.entries(t.set ?? {})) fields.set(Number(n), v);
  for (const n of t.remove ?? []) fields.delete(n);
  return { mti: answer.mti, fields };
}
