import { decryptCardData, TEST_CARDS, type CardPlaintext } from '../cards.js';
import { answerMti, type WireMessage, type WireValue } from './codec.js';
import { checkCryptogram, issuerField55, unacceptableIcc, type IccVerdict } from './issuer-icc.js';
import { HostLedger, type LedgerKind } from './ledger.js';
import { IssuerPins } from './pin-check.js';
import { checkRequestMac, macAnswer } from './message-mac.js';

/** Requests are scripted per class; a repeat (0221, 0401) shares its original's script. */
export type HostMtiClass = '0200' | '0220' | '0400' | '0500' | '0800';

export interface AcquirerRulesOptions {
  /** Override "today" for expiry checks (YYMM). */
  currentYymm?: () => string;
  /** Terminal ids that may sign on; any id when absent. */
  knownTerminals?: string[];
  /** Sales above this amount (minor units) are declined 51. */
  approveUpTo?: number;
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

/** The E fields each response echoes from its request (section 5). */
const ECHO: Record<string, number[]> = {
  '0210': [3, 4, 7, 11, 24, 41, 42, 49],
  '0230': [3, 4, 7, 11, 24, 41, 42, 49],
  '0410': [3, 4, 7, 11, 24, 41, 42, 49],
  '0510': [7, 11, 24, 41, 42, 60],
  '0810': [7, 11, 24, 41, 70],
};

const TEMPORARY = new Set(['91', '96']);

function text(msg: WireMessage, n: number): string {
  const v = msg.fields.get(n);
  return typeof v === 'string' ? v : '';
}

function yymmNow(): string {
  const d = new Date();
  return `${String(d.getUTCFullYear() % 100).padStart(2, '0')}${String(d.getUTCMonth() + 1).padStart(2, '0')}`;
}

export function classOf(mti: string): HostMtiClass | undefined {
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
 * What the acquirer decides for each request, and what it holds afterwards: postings,
 * reversals, voids and settlements in its ledger, following section 5 of the protocol
 * document. The transport and scripting live in host-sim.ts.
 */
export class AcquirerRules {
  readonly ledger = new HostLedger();
  private readonly pins = new IssuerPins();
  private rrnCounter = 0;
  private authCounter = 0;
  /** Issuer script templates (71 or 72, whole TLV) for the next 0210s with a verified ARQC, one per answer. */
  readonly issuerScripts: Buffer[] = [];

  constructor(private readonly options: AcquirerRulesOptions) {}

  /** After a ledger restore: new RRNs and approval codes continue after the ones already given. */
  resumeCounters(): void {
    for (const e of this.ledger.all()) {
      if (/^\d{12}$/.test(e.rrn)) this.rrnCounter = Math.max(this.rrnCounter, Number(e.rrn));
      const auth = /^A(\d{5})$/.exec(e.authCode ?? '');
      if (auth) this.authCounter = Math.max(this.authCounter, Number(auth[1]));
    }
  }

  /** Applies the request to the ledger and builds the answer. `forced` is a scripted field-39 code. */
  process(msg: WireMessage, mtiClass: HostMtiClass, forced: string | undefined): WireMessage {
    // A request whose MAC fails is not trusted with anything: 63, nothing posted.
    if (checkRequestMac(msg) === 'invalid') return macAnswer(msg, this.reply(msg, [[39, '63']]));
    return macAnswer(msg, this.decideRequest(msg, mtiClass, forced));
  }

  private decideRequest(msg: WireMessage, mtiClass: HostMtiClass, forced: string | undefined): WireMessage {
    const isVoid = mtiClass === '0200' && text(msg, 3) === '020000';
    const need = isVoid
      ? 'void'
      : { '0200': 'payment', '0220': 'advice', '0400': 'reversal', '0500': 'settlement', '0800': 'network' }[mtiClass];
    if ((MANDATORY[need] ?? []).some((n) => !msg.fields.has(n))) return this.reply(msg, [[39, '30']]);
    const icc = msg.fields.get(55);
    if (Buffer.isBuffer(icc) && unacceptableIcc(icc)) return this.reply(msg, [[39, '30']]);
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

  private reply(req: WireMessage, extra: [number, WireValue][]): WireMessage {
    const mti = answerMti(req.mti);
    const fields = new Map<number, WireValue>();
    for (const n of ECHO[mti] ?? []) {
      const v = req.fields.get(n);
      if (v !== undefined) fields.set(n, v);
    }
    for (const [n, v] of extra) fields.set(n, v);
    return { mti, fields };
  }

  private nextRrn(): string {
    this.rrnCounter++;
    return String(this.rrnCounter).padStart(12, '0');
  }

  private nextAuth(): string {
    this.authCounter++;
    return `A${String(this.authCounter).padStart(5, '0')}`;
  }

  private card(msg: WireMessage): CardPlaintext | undefined {
    const blob = msg.fields.get(48);
    try {
      return Buffer.isBuffer(blob) ? decryptCardData(blob) : undefined;
    } catch {
      return undefined;
    }
  }

  /** The issuer's decision from the card, its PIN (fields 52 and 53 of a 0200) and the amount, when no script overrides it. */
  private decide(card: CardPlaintext | undefined, amount: number, pinMsg?: WireMessage): string {
    if (!card) return '30';
    if (TEST_CARDS.find((c) => c.pan === card.pan)?.hotListed) return '43';
    if (card.expiry < (this.options.currentYymm ?? yymmNow)()) return '54';
    const pin = pinMsg && this.pins.verify(card.pan, pinMsg.fields.get(52), pinMsg.fields.get(53));
    if (pin !== undefined && pin !== '00') return pin;
    if (amount <= 0) return '13';
    if (this.options.approveUpTo !== undefined && amount > this.options.approveUpTo) return '51';
    return '00';
  }

  private payment(msg: WireMessage, forced: string | undefined): WireMessage {
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
    const kind: LedgerKind = text(msg, 3) === '200000' ? 'refund' : 'sale';
    const icc = this.icc(msg, card);
    // A chip cryptogram that does not verify is a counterfeit card or altered data: do not honour.
    const decided = () => (icc?.check === 'failed' ? '05' : this.decide(card, amount, kind === 'sale' ? msg : undefined));
    const code = lateAfterReversal ? '12' : (forced ?? decided());
    return this.postAndAnswer(msg, { kind, code, last4: card?.pan.slice(-4) ?? '', originalStan: null, icc });
  }

  private icc(msg: WireMessage, card: CardPlaintext | undefined): IccVerdict | undefined {
    const field55 = msg.fields.get(55);
    if (!Buffer.isBuffer(field55)) return undefined;
    return card ? checkCryptogram(card.pan, field55) : { check: 'failed', cid: -1 };
  }

  /** Records a decided 0200 in the ledger and builds its 0210 (RRN always, approval code on 00). */
  private postAndAnswer(
    msg: WireMessage,
    d: { kind: LedgerKind; code: string; last4: string; originalStan: string | null; icc?: IccVerdict | undefined },
  ): WireMessage {
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
      ...(d.icc ? { cryptogram: d.icc.check } : {}),
    });
    const extra: [number, WireValue][] = [
      [37, rrn],
      [39, d.code],
    ];
    if (authCode) extra.push([38, authCode]);
    const issuerData = d.icc && issuerField55(d.icc, d.code, this.issuerScripts.slice(0, 1));
    if (issuerData) {
      this.issuerScripts.shift();
      extra.push([55, issuerData]);
    }
    return this.reply(msg, extra);
  }

  private voidPayment(msg: WireMessage, forced: string | undefined): WireMessage {
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

  private advice(msg: WireMessage, forced: string | undefined): WireMessage {
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
    const icc = this.icc(msg, card);
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
      ...(icc ? { cryptogram: icc.check } : {}),
    });
    return this.reply(msg, [
      [37, rrn],
      [39, code],
    ]);
  }

  private reversal(msg: WireMessage, forced: string | undefined): WireMessage {
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

  private settlement(msg: WireMessage, forced: string | undefined): WireMessage {
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

  private network(msg: WireMessage, forced: string | undefined): WireMessage {
    if (forced !== undefined) return this.reply(msg, [[39, forced]]);
    const known = !this.options.knownTerminals || this.options.knownTerminals.includes(text(msg, 41));
    const code = text(msg, 70) === '001' && !known ? '03' : '00';
    return this.reply(msg, [[39, code]]);
  }
}
