import { ReaderCommandError } from '../../drivers/card-reader/errors.js';
import type { CardReadResult } from '../../drivers/card-reader/types.js';
import type { Clock } from '../../drivers/base/clock.js';
import { isPosError, PosError } from '../../drivers/base/errors.js';
import { AmountError, formatAmount, isCurrencyCode } from '../core/money.js';
import { isUnanswered, reversalReason } from '../host/errors.js';
import { financialRequest, localDay, readAnswer, transmissionDateTime, voidRequest } from '../host/messages.js';
import type { Logger } from '../logging/logger.js';
import type { Store } from '../store/store.js';
import { ReversalFirstError, type ReversalFirstGate } from '../reversals/first.js';
import { CurrencyNotAcceptedError, NotRefundableError, NotVoidableError, RefundExceedsOriginalError } from './errors.js';
import type { Journal, Transaction, TxnPatch } from './journal.js';
import {
  hostApproved,
  refundable,
  refundHoldsAmount,
  TXN_STATES,
  whyNotVoidable,
  type LifecycleEvent,
  type TxnState,
} from './lifecycle.js';
import { verifyAndAuthorize, type CardholderVerification, type CvmPort } from './cvm.js';
import { decideOffline, type OfflineCandidate } from './offline-rules.js';
import { CHIP_DECLINED_AFTER_APPROVAL, CHIP_DECLINED_OFFLINE, completeOffline, completeOnline, journalIcc, readChip } from './emv.js';
import type { ChipCard, ChipCardRead } from './emv.js';
import { StorageFailedAfterSendError, storageFailure } from '../store/storage.js';
import { retryAdvice } from './retry-advice.js';
import {
  offlineAuthCode,
  paymentOutcome,
  VOID_TIMEOUT_CODE,
  type CancelResult,
  type OfflineQueuePort,
  type PaymentCardReader,
  type PaymentHostChannel,
  type PaymentOutcome,
  type PaymentProgress,
  type PaymentSettings,
  type Attribution,
} from './outcome.js';

export * from './outcome.js';

type Progress = (p: PaymentProgress) => void;

/** What the offline rules judge of a payment. */
function offlineCandidate(txn: Transaction, card: CardReadResult, pinRequired: boolean): OfflineCandidate {
  return { type: txn.type, amount: txn.amount, entryMode: card.entryMode, panToken: card.panToken, pinRequired };
}

/** Refund states that use up the original's refundable amount. */
const REFUND_COUNTED: readonly TxnState[] = TXN_STATES.filter(refundHoldsAmount);

/**
 * The payments engine: sale, refund and void, each a walk through the lifecycle in
 * lifecycle.ts, obeying the write-ahead rule (every step committed before its effect
 * leaves the process). When the host is unreachable and nothing was sent, a sale may be
 * approved offline within the offline rules; the approval and its store-and-forward row
 * commit in one SQLite transaction.
 */
export class PaymentEngine {
  private phase: 'idle' | 'reading' | 'sent' = 'idle';
  private cancelRequested = false;

  constructor(
    private readonly deps: {
      store: Store;
      journal: Journal;
      /** Store-and-forward: the offline rules read it, an offline approval joins it. */
      offlineQueue: OfflineQueuePort;
      reader: PaymentCardReader;
      link: PaymentHostChannel;
      clock: Clock;
      logger: Logger;
      settings: PaymentSettings;
      /** Delivers pending reversals before a financial request leaves; none: requests leave at once. */
      reversalFirst?: ReversalFirstGate;
      /** The card's chip through the reader (payments/emv.ts); none: no field 55, no second cryptogram. */
      chip?: ChipCard;
    },
  ) {}

  /** Amount > 0, whole minor units, within the terminal limit, in the terminal's currency. */
  validateAmount(amount: number, currency: string = this.deps.settings.currency): void {
    const { maxAmount, currency: accepted } = this.deps.settings;
    if (!isCurrencyCode(currency) || currency !== accepted) throw new CurrencyNotAcceptedError(currency, accepted);
    if (!Number.isSafeInteger(amount) || amount <= 0) throw new AmountError('amount must be a positive whole number of minor units');
    if (amount > maxAmount) {
      throw new AmountError(`amount ${formatAmount(amount, accepted)} is over the terminal limit ${formatAmount(maxAmount, accepted)}`, {
        reason: 'AMOUNT_OVER_LIMIT',
      });
    }
  }

  async sale(input: { amount: number; currency?: string } & Attribution, onProgress: Progress = () => undefined): Promise<PaymentOutcome> {
    this.validateAmount(input.amount, input.currency);
    // Rung up, nothing sent: its commit needs no fsync of its own (the one before the 0200 carries it).
    const txn = this.deps.journal.create(
      { type: 'sale', amount: input.amount, currency: this.deps.settings.currency, operator: input.operator },
      { flush: false },
    );
    this.deps.logger.child('payments').info({ txn: txn.id, type: 'sale', amount: input.amount }, 'sale started');
    return this.withCard(txn, onProgress);
  }

  /**
   * Refunds are online only. Linked to its original sale, a refund may not take back more
   * than was paid, counting earlier refunds of the same sale.
   */
  async refund(
    input: { amount: number; currency?: string; originalId?: number } & Attribution,
    onProgress: Progress = () => undefined,
  ): Promise<PaymentOutcome> {
    const { journal, store, settings } = this.deps;
    this.validateAmount(input.amount, input.currency);
    if (input.originalId !== undefined) {
      const original = journal.get(input.originalId);
      if (original.type !== 'sale') throw new NotRefundableError(original.id, `it is a ${original.type}`);
      if (!refundable(original.type, original.state)) throw new NotRefundableError(original.id, `it is ${original.state}`);
      if (original.currency !== settings.currency) throw new CurrencyNotAcceptedError(original.currency, settings.currency);
      const refunded = store.transactions.refundsOf(original.id, REFUND_COUNTED).amount;
      if (input.amount > original.amount - refunded)
        throw new RefundExceedsOriginalError(original.id, input.amount, original.amount - refunded);
    }
    const txn = journal.create(
      {
        type: 'refund',
        amount: input.amount,
        currency: settings.currency,
        originalId: input.originalId,
        operator: input.operator,
        unreferenced: input.originalId === undefined,
      },
      { flush: false },
    );
    this.deps.logger
      .child('payments')
      .info({ txn: txn.id, type: 'refund', amount: input.amount, original: input.originalId }, 'refund started');
    return this.withCard(txn, onProgress);
  }

  /** Why the payment cannot be voided, or null: asked by the void screen before it asks to confirm. */
  whyNotVoidable(originalId: number): string | null {
    const { store, journal } = this.deps;
    const original = journal.get(originalId);
    return whyNotVoidable(original, {
      openBatch: original.batchNumber === store.currentBatch(),
      refunds: store.transactions.refundsOf(original.id, REFUND_COUNTED).count,
      hostReference: Boolean(original.stan && original.transmittedAt && original.rrn),
    });
  }

  /**
   * Voids an approved sale of the open batch. No card needed: the void names the original.
   * Online only. A sale with refunds is not voidable: the void would give the whole amount
   * back on top of the refunds.
   */
  async void(input: { originalId: number } & Attribution, onProgress: Progress = () => undefined): Promise<PaymentOutcome> {
    const { store, journal, link, clock, settings } = this.deps;
    const log = this.deps.logger.child('payments');
    const original = journal.get(input.originalId);
    const refused = this.whyNotVoidable(original.id);
    if (refused !== null || !original.stan || !original.transmittedAt || !original.rrn)
      throw new NotVoidableError(original.id, refused ?? 'the host reference is missing');

    const voidRow = { type: 'void', amount: original.amount, currency: original.currency, originalId: original.id } as const;
    // Nothing is sent for a refused void: it is journaled and declined locally.
    const refuse = (code: string, reason: string, event: LifecycleEvent) => {
      const refused = store.tx(() => {
        const v = journal.create({ ...voidRow, operator: input.operator });
        return journal.apply(v.id, event, { declineCode: code }, { reason }, 'created');
      });
      return paymentOutcome('declined_local', refused, code);
    };
    const unreachable: LifecycleEvent = { kind: 'Unreachable' };
    if (!link.ready) return refuse('OFFLINE_VOID_NOT_ALLOWED', 'link not ready', unreachable);
    const refusal = await this.reversalFirst(onProgress);
    if (refusal) return refuse(refusal.code, refusal.message, { kind: 'RefusedLocally' });
    // Readiness again after the wait, with nothing awaited between this check and the send.
    if (!link.ready) return refuse('OFFLINE_VOID_NOT_ALLOWED', 'link not ready', unreachable);
    const at = new Date(clock.now());
    const sent = store.tx(() => {
      const v = journal.create({ ...voidRow, operator: input.operator });
      journal.apply(original.id, { kind: 'VoidSent' }, {}, { voidId: v.id }, 'approved');
      const stan = store.nextStan();
      return journal.apply(
        v.id,
        { kind: 'Sent' },
        { stan, stanDay: localDay(at), transmittedAt: transmissionDateTime(at) },
        { stan },
        'created',
      );
    });
    log.info({ txn: sent.id, original: original.id, stan: sent.stan }, 'void sent');
    const request = voidRequest(settings.identity, {
      stan: sent.stan!,
      amount: original.amount,
      currency: original.currency,
      at,
      batchNumber: sent.batchNumber,
      original: { mti: '0200', stan: original.stan, transmittedAt: original.transmittedAt, rrn: original.rrn },
    });
    onProgress('waiting-for-host');
    // The void's own result and its sale's follow-up commit together.
    const settle = (event: LifecycleEvent, patch: TxnPatch, detail: Record<string, unknown>) =>
      store.tx(() => {
        const done = journal.apply(sent.id, event, patch, detail, 'online_sent');
        const voided = hostApproved(done.state);
        journal.apply(
          original.id,
          { kind: voided ? 'VoidApproved' : 'VoidFailed' },
          {},
          { voidId: sent.id, voidState: done.state },
          'void_pending',
        );
        return done;
      });
    this.phase = 'sent';
    try {
      const answer = readAnswer(await link.request(request, settings.responseTimeoutMs));
      const approved = answer.responseCode === '00';
      const done = settle(
        { kind: 'Answered', code: answer.responseCode },
        {
          responseCode: answer.responseCode,
          authCode: answer.authCode,
          rrn: answer.rrn,
          declineCode: approved ? null : answer.responseCode,
        },
        { responseCode: answer.responseCode },
      );
      onProgress('done');
      return paymentOutcome(approved ? 'approved' : 'declined', done, approved ? null : answer.responseCode);
    } catch (err) {
      onProgress('done');
      if (isUnanswered(err)) {
        // The void itself is reversed, so the sale it named stands: the customer is still charged,
        // whether the answer never came or could not be trusted.
        return paymentOutcome(
          'reversal_pending',
          settle({ kind: 'TimedOut' }, { declineCode: VOID_TIMEOUT_CODE }, { reason: err.code }),
          VOID_TIMEOUT_CODE,
        );
      }
      throw err instanceof PosError ? err : new PosError('VOID_FAILED', 'void failed unexpectedly', {}, { cause: err });
    } finally {
      this.phase = 'idle';
    }
  }

  /**
   * The cashier pressed cancel. Only the card read can be stopped: once the request is with
   * the host its answer decides, and a void afterwards is the way back.
   */
  cancel(): Promise<CancelResult> {
    if (this.phase === 'sent') return Promise.resolve('too-late');
    if (this.phase !== 'reading') return Promise.resolve('idle');
    this.cancelRequested = true;
    // Answered at once, so the screen says "Cancelling..." before the reader's answer ends the read.
    this.deps.reader.cancel().catch((err: unknown) => this.deps.logger.child('payments').warn({ err }, 'reader cancel failed'));
    return Promise.resolve('cancelling');
  }

  /**
   * Start-up: a void whose answer never came leaves its sale in void_pending. The void
   * itself was made reversal_pending by the journal recovery, so the sale stands again;
   * a void that did get approved before the crash completes its sale's voiding.
   */
  recoverVoids(): void {
    const { store, journal } = this.deps;
    for (const original of journal.inState('void_pending')) {
      const v = store.transactions.lastVoidOf(original.id);
      const event = v && hostApproved(v.state) ? 'VoidApproved' : 'VoidFailed';
      journal.apply(original.id, { kind: event }, {}, { reason: 'recovered', voidId: v?.id ?? null }, 'void_pending');
    }
  }

  private async withCard(txn: Transaction, onProgress: Progress): Promise<PaymentOutcome> {
    const { journal, reader, settings } = this.deps;
    const log = this.deps.logger.child('payments');
    let card: CardReadResult;
    // Cancellable from the first moment the cashier sees "Waiting for card...".
    this.phase = 'reading';
    this.cancelRequested = false;
    onProgress('waiting-for-card');
    try {
      const label = txn.type === 'refund' ? 'REFUND ' : '';
      await reader
        .display(`${label}${settings.currency} ${formatAmount(txn.amount, settings.currency)}`, 'Tap or insert card')
        .catch(() => undefined);
      // A cancel while the prompt was being shown found no READ to stop: honour it before reading.
      if (this.cancelRequested) throw new ReaderCommandError('READ', 'CANCELLED');
      card = await reader.read({ amount: txn.amount, currency: settings.currency, timeoutMs: settings.readTimeoutMs });
    } catch (err) {
      this.phase = 'idle';
      const code = isPosError(err) ? err.code : 'READER_CARD_READ_FAILED';
      if (code === 'READER_CANCELLED') {
        // A cancel is its own outcome, never a decline: the cashier's Esc or the cardholder's key on the reader.
        const by = this.cancelRequested ? 'CASHIER_CANCELLED' : code;
        const cancelled = journal.apply(txn.id, { kind: 'Cancelled' }, { declineCode: by }, { by }, 'created');
        log.info({ txn: txn.id, code: by }, 'payment cancelled before authorisation');
        return paymentOutcome('cancelled', cancelled, by);
      }
      // A reader fault is no decline: nothing was sent and nothing charged, so the payment ends not completed.
      const faulted = journal.apply(txn.id, { kind: 'Faulted' }, { declineCode: code }, { error: code }, 'created');
      log.warn({ txn: txn.id, code }, 'card read failed; payment not completed');
      return paymentOutcome('not_completed', faulted, code);
    }
    onProgress('card-read');
    try {
      return await verifyAndAuthorize(this.cvmPort(onProgress), txn, card, onProgress);
    } finally {
      this.phase = 'idle';
    }
  }

  /**
   * Runs inside the transaction of the step that follows the read (online_sent, or the
   * offline decision): card_read needs no commit of its own, since nothing leaves the
   * process between the two, and one fsync less sits between the card and the 0200.
   */
  private recordCard(txn: Transaction, card: CardReadResult): Transaction {
    return this.deps.journal.apply(
      txn.id,
      { kind: 'CardRead' },
      { maskedPan: card.maskedPan, last4: card.last4, panToken: card.panToken, entryMode: card.entryMode },
      { entryMode: card.entryMode },
      'created',
    );
  }

  /** The PIN step (cvm.ts) drives the reader and this engine through this port. */
  private cvmPort(onProgress: Progress): CvmPort {
    return {
      ...this.deps,
      cvm: this.deps.settings.cvm,
      recordCard: (txn, card) => this.recordCard(txn, card),
      authorize: (txn, card, cvm) => this.authorize(txn, card, onProgress, cvm),
      interactive: () => {
        this.phase = 'reading';
        this.cancelRequested = false;
        return { cashierCancelled: () => this.cancelRequested };
      },
    };
  }

  /** `txn` is still `created`: its card_read commits with what the link state decides. */
  private async authorize(
    txn: Transaction,
    read: CardReadResult,
    onProgress: Progress,
    cvm: CardholderVerification,
  ): Promise<PaymentOutcome> {
    const { store, journal, link, clock, settings } = this.deps;
    const log = this.deps.logger.child('payments');
    // The card's first cryptogram follows the PIN step, as cardholder verification precedes it on
    // a chip, and each PIN try (a new sale) has its own ARQC: a completed one cannot be completed again.
    let card: ChipCardRead;
    try {
      card = await readChip(this.deps.chip, txn.type, read, new Date(clock.now()));
    } catch (err) {
      const code = isPosError(err) ? err.code : 'READER_CARD_READ_FAILED';
      const faulted = journal.apply(txn.id, { kind: 'Faulted' }, { declineCode: code }, { error: code, step: 'icc' }, 'created');
      log.warn({ txn: txn.id, code }, 'chip data could not be read; payment not completed');
      onProgress('done');
      return paymentOutcome('not_completed', faulted, code);
    }
    // Not ready (no connection, or connected but not signed on) means offline; a pending
    // reversal goes first when the link is ready.
    const refusal = link.ready ? await this.reversalFirst(onProgress) : undefined;
    if (refusal) {
      const refused = store.tx(() => {
        this.recordCard(txn, card);
        return journal.apply(txn.id, { kind: 'RefusedLocally' }, { declineCode: refusal.code }, { reason: refusal.message }, 'card_read');
      });
      log.warn({ txn: txn.id, code: refusal.code }, 'pending reversal not delivered; payment refused, nothing sent');
      onProgress('done');
      return paymentOutcome('declined_local', refused, refusal.code);
    }
    // The link reports readiness synchronously and nothing awaits between here and the send,
    // so this check is the moment "nothing was sent" is known for certain. A connection just
    // given up as dead is not ready, so a sale rung then is decided offline at once.
    if (!link.ready) return this.decideOffline(txn, card, onProgress, cvm.pinRequired);
    const at = new Date(clock.now());
    // card_read, STAN allocation and online_sent commit together, before a byte leaves for the host.
    const sent = store.tx(() => {
      this.recordCard(txn, card);
      const stan = store.nextStan();
      return journal.apply(
        txn.id,
        { kind: 'Sent' },
        { stan, stanDay: localDay(at), transmittedAt: transmissionDateTime(at) },
        card.icc ? { stan, icc: journalIcc(card.icc) } : { stan },
        'card_read',
      );
    });
    const request = financialRequest(settings.identity, {
      kind: txn.type === 'refund' ? 'refund' : 'sale',
      stan: sent.stan!,
      amount: sent.amount,
      currency: settings.currency,
      at,
      entryMode: card.entryMode,
      expiry: card.expiry,
      encryptedBlob: card.encryptedBlob,
      pin: cvm.pin,
      iccData: card.icc?.raw,
      batchNumber: sent.batchNumber,
    });
    this.phase = 'sent';
    onProgress('waiting-for-host');
    try {
      const answerMessage = await link.request(request, settings.responseTimeoutMs);
      const answer = readAnswer(answerMessage);
      // The card has the last word on a chip sale: its AAC takes back the host's approval.
      const chip = await completeOnline(this.deps.chip, card, answer.responseCode, answerMessage.fields.get(55));
      const cardDeclined = answer.responseCode === '00' && chip?.decision === 'AAC';
      const approved = answer.responseCode === '00' && !cardDeclined;
      const done = journal.apply(
        sent.id,
        cardDeclined ? { kind: 'CardDeclined' } : { kind: 'Answered', code: answer.responseCode },
        {
          responseCode: answer.responseCode,
          // A decline slip shows no approval code: the card took the host's approval back.
          authCode: cardDeclined ? null : answer.authCode,
          rrn: answer.rrn,
          declineCode: approved ? null : cardDeclined ? CHIP_DECLINED_AFTER_APPROVAL : answer.responseCode,
          pinVerified: approved && cvm.pin !== undefined,
        },
        chip ? { responseCode: answer.responseCode, chip } : { responseCode: answer.responseCode },
        'online_sent',
      );
      log.info({ txn: done.id, stan: done.stan, responseCode: answer.responseCode, chip: chip?.decision }, 'host answered');
      onProgress('done');
      if (cardDeclined) return paymentOutcome('reversal_pending', done, CHIP_DECLINED_AFTER_APPROVAL);
      return paymentOutcome(approved ? 'approved' : 'declined', done, approved ? null : answer.responseCode);
    } catch (err) {
      if (isUnanswered(err)) {
        // Offline is decided from card_read, before online_sent commits (the lifecycle allows
        // no other way); once online_sent is durable, a reversal is the only safe move, never a
        // re-send. An answer that does not fit the request is no answer: the host may have posted.
        const code = reversalReason(err);
        const pending = journal.apply(sent.id, { kind: 'TimedOut' }, { declineCode: code }, { reason: err.code }, 'online_sent');
        log.warn({ txn: pending.id, stan: pending.stan, code: err.code }, 'no usable answer from host; reversal pending');
        onProgress('done');
        const retry = retryAdvice(link.ready, () =>
          decideOffline(
            settings.offline,
            offlineCandidate(txn, card, cvm.pinRequired),
            this.deps.offlineQueue.exposure(settings.currency),
            clock.now(),
          ),
        );
        return { ...paymentOutcome('reversal_pending', pending, code), retry };
      }
      const storage = storageFailure(err);
      if (storage) {
        log.error({ txn: sent.id, stan: sent.stan, code: storage.code }, 'answer could not be recorded; left in flight for recovery');
        throw new StorageFailedAfterSendError(storage.problem, { txn: sent.id }, { cause: err });
      }
      throw err instanceof PosError ? err : new PosError('PAYMENT_FAILED', 'payment failed unexpectedly', {}, { cause: err });
    }
  }

  /**
   * The offline rules read the queue and the approval writes to it in one immediate
   * transaction, so the caps hold even if two decisions raced.
   */
  private async decideOffline(txn: Transaction, card: ChipCardRead, onProgress: Progress, pinRequired: boolean): Promise<PaymentOutcome> {
    const { store, journal, clock, settings } = this.deps;
    const log = this.deps.logger.child('payments');
    const candidate = offlineCandidate(txn, card, pinRequired);
    const rules = (now: number) => decideOffline(settings.offline, candidate, this.deps.offlineQueue.exposure(settings.currency), now);
    // The card hears of an offline approval (and answers TC or AAC) before it commits.
    const chip = card.icc && rules(clock.now()).approve ? await completeOffline(this.deps.chip, card) : undefined;
    const decided = store.tx(() => {
      this.recordCard(txn, card);
      const now = clock.now();
      const ruled = rules(now);
      const decision: { approve: true } | { approve: false; code: string; detail: Record<string, unknown> } =
        ruled.approve && chip?.decision === 'AAC' ? { approve: false, code: CHIP_DECLINED_OFFLINE, detail: { chip: chip.journal } } : ruled;
      if (!decision.approve) {
        // Refunds are online only: the lifecycle has no offline decision for them, only "unreachable".
        const declined = journal.apply(
          txn.id,
          txn.type === 'sale' ? { kind: 'OfflineDecided', approved: false } : { kind: 'Unreachable' },
          { declineCode: decision.code },
          { reason: 'offline rules', ...decision.detail },
          'card_read',
        );
        return { txn: declined, code: decision.code };
      }
      const stan = store.nextStan();
      const approved = journal.apply(
        txn.id,
        { kind: 'OfflineDecided', approved: true },
        { stan, stanDay: localDay(new Date(now)), authCode: offlineAuthCode(stan) },
        { stan, reason: 'link offline' },
        'card_read',
      );
      this.deps.offlineQueue.enqueue({
        transactionId: approved.id,
        encryptedBlob: card.encryptedBlob,
        expiry: card.expiry || null,
        now,
        iccData: chip?.advice,
      });
      return { txn: approved, code: null };
    });
    onProgress('done');
    if (decided.code === null) {
      log.info({ txn: decided.txn.id, stan: decided.txn.stan }, 'approved offline; queued for forwarding');
      return paymentOutcome('offline_approved', decided.txn, null);
    }
    log.info({ txn: decided.txn.id, code: decided.code }, 'offline rules declined');
    return paymentOutcome('declined_local', decided.txn, decided.code);
  }

  /**
   * The acquirer rule: pending reversals go first. Returns the refusal when they could not
   * be delivered within the bound (nothing of this payment was sent).
   */
  private async reversalFirst(onProgress: Progress): Promise<ReversalFirstError | undefined> {
    try {
      await this.deps.reversalFirst?.deliverPending(() => onProgress('sending-pending-reversal'));
      return undefined;
    } catch (err) {
      if (err instanceof ReversalFirstError) return err;
      throw err;
    }
  }
}
