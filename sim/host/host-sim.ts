import { EventEmitter } from 'node:events';
import { writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { IsoError } from '../../firmware-app/host/iso8583/errors.js';
import { pack, responseMti, unpack, type IsoMessage } from '../../firmware-app/host/iso8583/packager.js';
import { decryptCardData, TEST_CARDS, type CardPlaintext } from '../cards.js';
import { HostLedger, type LedgerKind } from './ledger.js';
import { listenOn } from '../listen.js';

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
  | { type: 'garbage' };

/** Requests are scripted per class; a repeat (0221, 0401) shares its original's script. */
export type HostMtiClass = '0200' | '0220' | '0400' | '0500' | '0800';

export interface ReceivedRequest {
  message: IsoMessage;
  at: number;
}

export interface HostSimOptions {
  port?: number;
  address?: string;
  /** Override "today" for expiry checks (YYMM). */
  currentYymm?: () => string;
  /** Terminal ids that may sign on; any id when absent. */
  knownTerminals?: string[];
  /** Sales above this amount (minor units) are declined 51. */
  approveUpTo?: number;
  /** Written with the ledger snapshot (JSON) after every request, for `npm run reconcile`. */
  ledgerFile?: string;
}

/** The fields a request must carry (docs/protocols/host-iso8583.md section 5); missing one is answered 30. */
const MANDATORY: Record<string, number[]> = {
  payment: [3, 4, 7, 11, 12, 13, 22, 24, 25, 41, 42, 48, 49, 60],
  void: [3, 4, 7, 11, 12, 13, 24, 25, 37, 41, 42, 49, 60, 90],
  advice: [3, 4, 7, 11, 12, 13, 22, 24, 25, 41, 42, 48, 49, 60],
  reversal: [3, 4, 7, 11, 24, 41, 42, 49, 60, 90],
  settlement: [7, 11, 24, 41, 42, 60, 63],
  network: [7, 11, 24, 41, 70],
};

/** The E fields each response echoes from its request. */
const ECHO: Record<string, number[]> = {
  '0210': [3, 4, 7, 11, 24, 41, 42, 49],
  '0230': [3, 4, 7, 11, 24, 41, 42, 49],
  '0410': [3, 4, 7, 11, 24, 41, 42, 49],
  '0510': [7, 11, 24, 41, 42, 60],
  '0810': [7, 11, 24, 41, 70],
};

const TEMPORARY = new Set(['91', '96']);

function text(msg: IsoMessage, n: number): string {
  const v = msg.fields.get(n);
  return typeof v === 'string' ? v : '';
}

function yymmNow(): string {
  const d = new Date();
  return `${String(d.getUTCFullYear() % 100).padStart(2, '0')}${String(d.getUTCMonth() + 1).padStart(2, '0')}`;
}

function classOf(mti: string): HostMtiClass | undefined {
  switch (mti) {
    case '0200':
      return '0200';
    case '0220':
    case '0221':
      return '0220';
    case '0400':
    case '0401':
      return '0400';
    case '0500':
      return '0500';
    case '0800':
      return '0800';
    default:
      return undefined;
  }
}

/**
 * The simulated acquirer host: ISO 8583 over TCP with the same 2-byte framing as the real
 * link, a ledger of postings, and scriptable behaviour per request class. Built from
 * docs/protocols/host-iso8583.md alone (plus the simulator's card key).
 *
 * Events: 'request' (IsoMessage), 'bad-frame' (IsoError), 'unsupported' (MTI).
 */
export class HostSim extends EventEmitter {
  readonly ledger = new HostLedger();
  readonly received: ReceivedRequest[] = [];
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  private readonly scripts: Record<HostMtiClass, HostAction[]> = { '0200': [], '0220': [], '0400': [], '0500': [], '0800': [] };
  /** Used when a class's script is empty (0200 uses `defaultAction`). */
  readonly defaults: Partial<Record<HostMtiClass, HostAction>> = {};
  private rrnCounter = 0;
  private authCounter = 0;
  private boundPort = 0;
  /** Called synchronously as each request arrives, before it is processed. */
  private readonly observers: ((msg: IsoMessage) => void)[] = [];
  /** What a 0200 gets when the script is empty. */
  defaultAction: HostAction = { type: 'approve' };

  constructor(private readonly options: HostSimOptions = {}) {
    super();
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
    const body = pack(msg);
    const header = Buffer.alloc(2);
    header.writeUInt16BE(body.length);
    return Buffer.concat([header, body]);
  }

  private reply(req: IsoMessage, extra: [number, string][]): IsoMessage {
    const mti = responseMti(req.mti);
    const fields = new Map<number, string | Buffer>();
    for (const n of ECHO[mti] ?? []) {
      const v = req.fields.get(n);
      if (v !== undefined) fields.set(n, v);
    }
    for (const [n, v] of extra) fields.set(n, v);
    return { mti, fields: new Map([...fields.entries()].sort((a, b) => a[0] - b[0])) };
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
    const forced = action.type === 'decline' ? action.code : undefined;
    const answer = this.process(msg, mtiClass, forced);
    if (this.options.ledgerFile) this.writeLedger(this.options.ledgerFile);
    if (socket.destroyed || action.type === 'drop') return;
    const bytes = this.frame(answer);
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

  /** Applies the request to the ledger and builds the answer. `forced` is a scripted field-39 code. */
  private process(msg: IsoMessage, mtiClass: HostMtiClass, forced: string | undefined): IsoMessage {
    const isVoid = mtiClass === '0200' && text(msg, 3) === '020000';
    const need = isVoid
      ? 'void'
      : { '0200': 'payment', '0220': 'advice', '0400': 'reversal', '0500': 'settlement', '0800': 'network' }[mtiClass];
    if ((MANDATORY[need] ?? []).some((n) => !msg.fields.has(n))) return this.reply(msg, [[39, '30']]);
    switch (mtiClass) {
      case '0200':
        return isVoid ? this.voidPayment(msg, forced) : this.payment(msg, forced);
      case '0220':
        return this.advice(msg, forced);
      case '0400':
        return this.reversal(msg, forced);
      case '0500':
        return this.settlement(msg, forced);
      case '0800':
        return this.network(msg, forced);
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

  private card(msg: IsoMessage): CardPlaintext | undefined {
    const blob = msg.fields.get(48);
    try {
      return Buffer.isBuffer(blob) ? decryptCardData(blob) : undefined;
    } catch {
      return undefined;
    }
  }

  /** The issuer's decision from the card and amount, when no script overrides it. */
  private decide(card: CardPlaintext | undefined, amount: number): string {
    if (!card) return '30';
    if (TEST_CARDS.find((c) => c.pan === card.pan)?.hotListed) return '43';
    if (card.expiry < (this.options.currentYymm ?? yymmNow)()) return '54';
    if (amount <= 0) return '13';
    if (this.options.approveUpTo !== undefined && amount > this.options.approveUpTo) return '51';
    return '00';
  }

  private payment(msg: IsoMessage, forced: string | undefined): IsoMessage {
    const tid = text(msg, 41);
    const stan = text(msg, 11);
    const existing = this.ledger.get(tid, stan);
    if (existing) {
      // A 0200 is never repeated: a second one with this 41 + 11 is a duplicate and posts nothing.
      existing.receivedCount++;
      return this.reply(msg, [[39, '94']]);
    }
    const card = this.card(msg);
    const amount = Number(text(msg, 4));
    const lateAfterReversal = this.ledger.hasOrphanReversal(tid, stan);
    const code = lateAfterReversal ? '12' : (forced ?? this.decide(card, amount));
    const kind: LedgerKind = text(msg, 3) === '200000' ? 'refund' : 'sale';
    return this.postAndAnswer(msg, { kind, code, last4: card?.pan.slice(-4) ?? '', originalStan: null });
  }

  /** Records a decided 0200 in the ledger and builds its 0210 (RRN always, approval code on 00). */
  private postAndAnswer(msg: IsoMessage, d: { kind: LedgerKind; code: string; last4: string; originalStan: string | null }): IsoMessage {
    const approved = d.code === '00';
    const authCode = approved ? this.nextAuth() : null;
    const rrn = this.nextRrn();
    this.ledger.record({
      terminalId: text(msg, 41),
      stan: text(msg, 11),
      kind: d.kind,
      amount: Number(text(msg, 4)),
      currency: text(msg, 49),
      batch: Number(text(msg, 60)),
      status: approved ? 'posted' : 'declined',
      responseCode: d.code,
      authCode,
      rrn,
      last4: d.last4,
      receivedCount: 1,
      originalStan: d.originalStan,
      postedAt: Date.now(),
      reversedAt: null,
      voidedAt: null,
    });
    const extra: [number, string][] = [
      [37, rrn],
      [39, d.code],
    ];
    if (authCode) extra.push([38, authCode]);
    return this.reply(msg, extra);
  }

  private voidPayment(msg: IsoMessage, forced: string | undefined): IsoMessage {
    const tid = text(msg, 41);
    const stan = text(msg, 11);
    const existing = this.ledger.get(tid, stan);
    if (existing) {
      existing.receivedCount++;
      return this.reply(msg, [[39, '94']]);
    }
    const originalStan = text(msg, 90).slice(4, 10);
    const original = this.ledger.get(tid, originalStan);
    const amount = Number(text(msg, 4));
    let code = forced;
    if (code === undefined) {
      const matches =
        original !== undefined &&
        original.status === 'posted' &&
        (original.kind === 'sale' || original.kind === 'refund') &&
        original.rrn === text(msg, 37).trim() &&
        original.amount === amount;
      code = matches ? '00' : '12';
    }
    if (this.ledger.hasOrphanReversal(tid, stan)) code = '12';
    if (code === '00' && original) {
      original.status = 'voided';
      original.voidedAt = Date.now();
    }
    return this.postAndAnswer(msg, { kind: 'void', code, last4: original?.last4 ?? '', originalStan });
  }

  private advice(msg: IsoMessage, forced: string | undefined): IsoMessage {
    const tid = text(msg, 41);
    const stan = text(msg, 11);
    const existing = this.ledger.get(tid, stan);
    if (existing) {
      // Same answer as the first time, never a second posting.
      existing.receivedCount++;
      return this.reply(msg, [
        [37, existing.rrn],
        [39, existing.responseCode],
      ]);
    }
    // A temporary failure processes nothing: the repeat is decided afresh.
    if (forced !== undefined && TEMPORARY.has(forced)) return this.reply(msg, [[39, forced]]);
    const card = this.card(msg);
    const amount = Number(text(msg, 4));
    const code = forced ?? this.decide(card, amount);
    const rrn = this.nextRrn();
    this.ledger.record({
      terminalId: tid,
      stan,
      kind: 'advice',
      amount,
      currency: text(msg, 49),
      batch: Number(text(msg, 60)),
      status: code === '00' ? 'posted' : 'declined',
      responseCode: code,
      authCode: text(msg, 38).trim() || null,
      rrn,
      last4: card?.pan.slice(-4) ?? '',
      receivedCount: 1,
      originalStan: null,
      postedAt: Date.now(),
      reversedAt: null,
      voidedAt: null,
    });
    return this.reply(msg, [
      [37, rrn],
      [39, code],
    ]);
  }

  private reversal(msg: IsoMessage, forced: string | undefined): IsoMessage {
    // A scripted failure stands for a host that could not process the reversal at all.
    if (forced !== undefined && forced !== '00') return this.reply(msg, [[39, forced]]);
    const tid = text(msg, 41);
    const stan = text(msg, 11);
    const seen = this.ledger.reversal(tid, stan);
    if (seen) {
      seen.receivedCount++;
      return this.reply(msg, [[39, '00']]);
    }
    const originalStan = text(msg, 90).slice(4, 10);
    const entry = this.ledger.get(tid, originalStan);
    let effect: 'reversed' | 'nothing' | 'orphan' = 'nothing';
    if (!entry) {
      effect = 'orphan';
    } else if (entry.status === 'posted') {
      entry.status = 'reversed';
      entry.reversedAt = Date.now();
      effect = 'reversed';
      if (entry.kind === 'void' && entry.originalStan) {
        // Reversing a void puts the payment it cancelled back.
        const cancelled = this.ledger.get(tid, entry.originalStan);
        if (cancelled?.status === 'voided') {
          cancelled.status = 'posted';
          cancelled.voidedAt = null;
        }
      }
    }
    this.ledger.recordReversal({ terminalId: tid, stan, originalStan, effect, receivedCount: 1 });
    return this.reply(msg, [[39, '00']]);
  }

  private settlement(msg: IsoMessage, forced: string | undefined): IsoMessage {
    const tid = text(msg, 41);
    const batch = Number(text(msg, 60));
    const closed = this.ledger.settlement(tid, batch);
    if (closed) {
      closed.receivedCount++;
      return this.reply(msg, [[39, closed.responseCode]]);
    }
    const h = this.ledger.batchTotals(tid, batch);
    const hostTotals = [
      String(h.salesCount).padStart(6, '0'),
      String(h.salesAmount).padStart(12, '0'),
      String(h.refundsCount).padStart(6, '0'),
      String(h.refundsAmount).padStart(12, '0'),
    ].join('');
    const terminalTotals = text(msg, 63);
    const code = forced ?? (terminalTotals === hostTotals ? '00' : '95');
    // 00 and 95 close the batch; any other answer leaves it open for a later 0500.
    if (code === '00' || code === '95') {
      this.ledger.recordSettlement({ terminalId: tid, batch, responseCode: code, terminalTotals, hostTotals, receivedCount: 1 });
    }
    return this.reply(msg, [[39, code]]);
  }

  private network(msg: IsoMessage, forced: string | undefined): IsoMessage {
    if (forced !== undefined) return this.reply(msg, [[39, forced]]);
    const known = !this.options.knownTerminals || this.options.knownTerminals.includes(text(msg, 41));
    const code = text(msg, 70) === '001' && !known ? '03' : '00';
    return this.reply(msg, [[39, code]]);
  }
}
