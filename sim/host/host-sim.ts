import { EventEmitter } from 'node:events';
import { createServer, type Server, type Socket } from 'node:net';
import { IsoError } from '../../firmware-app/host/iso8583/errors.js';
import { pack, responseMti, unpack, type IsoMessage } from '../../firmware-app/host/iso8583/packager.js';
import { decryptCardData, TEST_CARDS, type CardPlaintext } from '../cards.js';
import { HostLedger, type LedgerKind } from './ledger.js';

/** What the host does with the next financial request. */
export type HostAction =
  | { type: 'approve' }
  | { type: 'decline'; code: string }
  /** Posts the payment but the answer is lost on the way back. */
  | { type: 'drop' }
  | { type: 'delay'; ms: number; then?: HostAction }
  /** Closes the connection instead of answering (nothing posted). */
  | { type: 'close' };

export interface ReceivedRequest {
  message: IsoMessage;
  at: number;
}

export interface HostSimOptions {
  port?: number;
  address?: string;
  /** Override "today" for expiry checks (YYMM). */
  currentYymm?: () => string;
}

function text(msg: IsoMessage, n: number): string {
  const v = msg.fields.get(n);
  return typeof v === 'string' ? v : '';
}

function yymmNow(): string {
  const d = new Date();
  return `${String(d.getUTCFullYear() % 100).padStart(2, '0')}${String(d.getUTCMonth() + 1).padStart(2, '0')}`;
}

/**
 * The simulated acquirer host: ISO 8583 over TCP with the same 2-byte framing as the real
 * link, a ledger of postings, and scriptable behaviour per request.
 */
export class HostSim extends EventEmitter {
  readonly ledger = new HostLedger();
  readonly received: ReceivedRequest[] = [];
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  private readonly script: HostAction[] = [];
  private rrnCounter = 0;
  private authCounter = 0;
  private boundPort = 0;
  /** Called synchronously as each request arrives, before it is processed. */
  private readonly observers: ((msg: IsoMessage) => void)[] = [];
  /** The action used when the script is empty. */
  defaultAction: HostAction = { type: 'approve' };

  constructor(private readonly options: HostSimOptions = {}) {
    super();
  }

  get port(): number {
    return this.boundPort;
  }

  async start(): Promise<number> {
    const server = createServer((socket) => this.onConnection(socket));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.options.port ?? this.boundPort ?? 0, this.options.address ?? '127.0.0.1', () => resolve());
    });
    const addr = server.address();
    this.boundPort = typeof addr === 'object' && addr ? addr.port : 0;
    this.server = server;
    return this.boundPort;
  }

  /** Stops listening and drops every connection (the host "goes down"). */
  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** Queue actions for the next financial requests, in order. */
  queue(...actions: HostAction[]): void {
    this.script.push(...actions);
  }

  onRequest(observer: (msg: IsoMessage) => void): void {
    this.observers.push(observer);
  }

  private onConnection(socket: Socket): void {
    this.sockets.add(socket);
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

  private send(socket: Socket, msg: IsoMessage): void {
    if (socket.destroyed) return;
    const body = pack(msg);
    const header = Buffer.alloc(2);
    header.writeUInt16BE(body.length);
    socket.write(Buffer.concat([header, body]));
  }

  private reply(req: IsoMessage, extra: [number, string][], echo: number[]): IsoMessage {
    const fields = new Map<number, string | Buffer>();
    for (const n of echo) {
      const v = req.fields.get(n);
      if (v !== undefined) fields.set(n, v);
    }
    for (const [n, v] of extra) fields.set(n, v);
    return { mti: responseMti(req.mti), fields: new Map([...fields.entries()].sort((a, b) => a[0] - b[0])) };
  }

  private onFrame(socket: Socket, frame: Buffer): void {
    let msg: IsoMessage;
    try {
      msg = unpack(frame);
    } catch (err) {
      if (err instanceof IsoError) {
        this.emit('bad-frame', err);
        return;
      }
      throw err;
    }
    for (const o of this.observers) o(msg);
    this.received.push({ message: msg, at: Date.now() });
    this.emit('request', msg);
    switch (msg.mti) {
      case '0200':
        this.financial(socket, msg, this.script.shift() ?? this.defaultAction);
        return;
      case '0220':
      case '0221':
        this.advice(socket, msg);
        return;
      case '0400':
      case '0401':
        this.reversal(socket, msg);
        return;
      case '0800':
        this.send(socket, this.reply(msg, [[39, '00']], [7, 11, 24, 41, 70]));
        return;
      default:
        this.emit('unsupported', msg.mti);
    }
  }

  private nextRrn(): string {
    this.rrnCounter++;
    return String(this.rrnCounter).padStart(12, '0');
  }

  private nextAuth(): string {
    this.authCounter++;
    return `A${String(this.authCounter).padStart(5, '0')}`;
  }

  /** The issuer's decision from the card itself, when no script overrides it. */
  private cardDecision(card: CardPlaintext | undefined): string {
    if (!card) return '30';
    if (TEST_CARDS.find((c) => c.pan === card.pan)?.hotListed) return '43';
    if (card.expiry < (this.options.currentYymm ?? yymmNow)()) return '54';
    return '00';
  }

  private financial(socket: Socket, msg: IsoMessage, action: HostAction): void {
    if (action.type === 'delay') {
      setTimeout(() => this.financial(socket, msg, action.then ?? this.defaultAction), action.ms);
      return;
    }
    if (action.type === 'close') {
      socket.destroy();
      return;
    }
    const tid = text(msg, 41);
    const stan = text(msg, 11);
    const existing = this.ledger.get(tid, stan);
    if (existing) {
      // A repeat of a request already decided: answer the same, never post twice.
      existing.receivedCount++;
      if (action.type !== 'drop') {
        this.send(socket, this.financialReply(msg, existing.responseCode, existing.authCode, existing.rrn));
      }
      return;
    }
    let card: CardPlaintext | undefined;
    const blob = msg.fields.get(48);
    try {
      card = Buffer.isBuffer(blob) ? decryptCardData(blob) : undefined;
    } catch {
      card = undefined;
    }
    let code = action.type === 'decline' ? action.code : this.cardDecision(card);
    if (action.type === 'approve' && code !== '00') code = this.cardDecision(card);
    const approved = code === '00';
    const authCode = approved ? this.nextAuth() : null;
    const rrn = this.nextRrn();
    const kind: LedgerKind = text(msg, 3).startsWith('20') ? 'refund' : 'sale';
    this.ledger.record({
      terminalId: tid,
      stan,
      kind,
      amount: Number(text(msg, 4)),
      currency: text(msg, 49),
      status: approved ? 'posted' : 'declined',
      responseCode: code,
      authCode,
      rrn,
      last4: card?.pan.slice(-4) ?? '',
      receivedCount: 1,
      postedAt: Date.now(),
      reversedAt: null,
    });
    if (action.type === 'drop') return;
    this.send(socket, this.financialReply(msg, code, authCode, rrn));
  }

  private financialReply(msg: IsoMessage, code: string, authCode: string | null, rrn: string): IsoMessage {
    const extra: [number, string][] = [[37, rrn], [39, code]];
    if (authCode) extra.push([38, authCode]);
    return this.reply(msg, extra, [3, 4, 7, 11, 24, 41, 42, 49]);
  }

  private advice(socket: Socket, msg: IsoMessage): void {
    const tid = text(msg, 41);
    const stan = text(msg, 11);
    const existing = this.ledger.get(tid, stan);
    if (existing) {
      existing.receivedCount++;
    } else {
      let card: CardPlaintext | undefined;
      const blob = msg.fields.get(48);
      try {
        card = Buffer.isBuffer(blob) ? decryptCardData(blob) : undefined;
      } catch {
        card = undefined;
      }
      const code = this.cardDecision(card);
      this.ledger.record({
        terminalId: tid,
        stan,
        kind: 'advice',
        amount: Number(text(msg, 4)),
        currency: text(msg, 49),
        status: code === '00' ? 'posted' : 'declined',
        responseCode: code,
        authCode: text(msg, 38).trim() || null,
        rrn: this.nextRrn(),
        last4: card?.pan.slice(-4) ?? '',
        receivedCount: 1,
        postedAt: Date.now(),
        reversedAt: null,
      });
    }
    const entry = this.ledger.get(tid, stan)!;
    this.send(socket, this.reply(msg, [[37, entry.rrn], [39, entry.responseCode]], [3, 4, 7, 11, 41, 42, 49]));
  }

  private reversal(socket: Socket, msg: IsoMessage): void {
    const tid = text(msg, 41);
    const original = text(msg, 90);
    const originalStan = original.slice(4, 10);
    const entry = this.ledger.get(tid, originalStan);
    if (entry) {
      if (entry.status === 'posted') {
        entry.status = 'reversed';
        entry.reversedAt = Date.now();
      }
    } else if (!this.ledger.orphanReversals.some((o) => o.terminalId === tid && o.stan === originalStan)) {
      this.ledger.orphanReversals.push({ terminalId: tid, stan: originalStan });
    }
    // Reversals are always acknowledged, even for an unknown original, so the terminal stops repeating.
    this.send(socket, this.reply(msg, [[39, '00']], [3, 4, 7, 11, 24, 41, 42, 49]));
  }
}
