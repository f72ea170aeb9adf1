import type { CardReaderClient } from '../../drivers/card-reader/client.js';
import type { CardReadResult } from '../../drivers/card-reader/types.js';
import type { Clock } from '../../drivers/base/clock.js';
import { isPosError, PosError } from '../../drivers/base/errors.js';
import { AmountError, formatAmount, type CurrencyCode } from '../core/money.js';
import { explain } from '../declines/catalog.js';
import { HostTimeoutError, HostUnreachableError } from '../host/errors.js';
import type { HostLink } from '../host/link.js';
import { financialRequest, localDay, readAnswer, transmissionDateTime, type TerminalIdentity } from '../host/messages.js';
import type { Logger } from '../logging/logger.js';
import { nextStan } from '../store/counters.js';
import type { Db } from '../store/db.js';
import type { Journal, Transaction } from './journal.js';

export interface SaleSettings {
  identity: TerminalIdentity;
  currency: CurrencyCode;
  maxAmount: number;
  readTimeoutMs: number;
  responseTimeoutMs: number;
}

export type SaleResult = 'approved' | 'declined' | 'reversal_pending' | 'declined_local';

export interface SaleOutcome {
  result: SaleResult;
  transaction: Transaction;
  /** The catalog code explaining a non-approval (field 39 or a local reason). */
  code: string | null;
  /** One line for the cashier. */
  message: string;
}

export type SaleProgress = 'waiting-for-card' | 'card-read' | 'waiting-for-host' | 'done';

/**
 * One sale, obeying the write-ahead rule: every step is committed before its effect
 * leaves the process. `online_sent` with its STAN is durable before the 0200 is written
 * to the socket; the result is durable before the cashier sees it.
 */
export class SaleFlow {
  constructor(
    private readonly deps: {
      db: Db;
      journal: Journal;
      reader: CardReaderClient;
      link: HostLink;
      clock: Clock;
      logger: Logger;
      settings: SaleSettings;
    },
  ) {}

  validateAmount(amount: number): void {
    const { maxAmount, currency } = this.deps.settings;
    if (!Number.isSafeInteger(amount) || amount <= 0) throw new AmountError('amount must be a positive whole number of minor units');
    if (amount > maxAmount) {
      throw new AmountError(`amount ${formatAmount(amount, currency)} is over the terminal limit ${formatAmount(maxAmount, currency)}`, {
        reason: 'AMOUNT_OVER_LIMIT',
      });
    }
  }

  async sale(amount: number, onProgress: (p: SaleProgress) => void = () => undefined): Promise<SaleOutcome> {
    const { journal, reader, settings, logger } = this.deps;
    this.validateAmount(amount);
    let txn = journal.create({ type: 'sale', amount, currency: settings.currency });
    const log = logger.child('sale');
    log.info({ txn: txn.id, amount, currency: settings.currency }, 'sale started');

    onProgress('waiting-for-card');
    let card: CardReadResult;
    try {
      await reader.display(`${settings.currency} ${formatAmount(amount, settings.currency)}`, 'Tap or insert card').catch(() => undefined);
      card = await reader.read({ amount, currency: settings.currency, timeoutMs: settings.readTimeoutMs });
    } catch (err) {
      const code = isPosError(err) ? err.code : 'READER_CARD_READ_FAILED';
      txn = journal.transition(txn.id, 'declined_local', { declineCode: code }, { error: code }, 'created');
      log.warn({ txn: txn.id, code }, 'card read failed');
      return this.outcome('declined_local', txn, code);
    }
    txn = journal.transition(
      txn.id,
      'card_read',
      { maskedPan: card.maskedPan, last4: card.last4, panToken: card.panToken, entryMode: card.entryMode },
      { entryMode: card.entryMode },
      'created',
    );
    onProgress('card-read');
    return this.authorize(txn, card, onProgress);
  }

  private async authorize(txn: Transaction, card: CardReadResult, onProgress: (p: SaleProgress) => void): Promise<SaleOutcome> {
    const { db, journal, link, clock, settings, logger } = this.deps;
    const log = logger.child('sale');
    if (link.state === 'offline') {
      const declined = journal.transition(txn.id, 'declined_local', { declineCode: 'HOST_UNREACHABLE' }, { reason: 'link offline' }, 'card_read');
      return this.outcome('declined_local', declined, 'HOST_UNREACHABLE');
    }
    const at = new Date(clock.now());
    // STAN allocation and online_sent commit together, before a byte leaves for the host.
    const sent = db
      .transaction(() => {
        const stan = nextStan(db);
        return journal.transition(
          txn.id,
          'online_sent',
          { stan, stanDay: localDay(at), transmittedAt: transmissionDateTime(at) },
          { stan },
          'card_read',
        );
      })
      .immediate();
    const request = financialRequest(settings.identity, {
      kind: 'sale',
      stan: sent.stan!,
      amount: sent.amount,
      currency: settings.currency,
      at,
      entryMode: card.entryMode,
      expiry: card.expiry,
      encryptedBlob: card.encryptedBlob,
      batchNumber: sent.batchNumber,
    });
    onProgress('waiting-for-host');
    try {
      const response = await link.request(request, settings.responseTimeoutMs);
      const answer = readAnswer(response);
      const approved = answer.responseCode === '00';
      const done = journal.transition(
        sent.id,
        approved ? 'approved' : 'declined',
        { responseCode: answer.responseCode, authCode: answer.authCode, rrn: answer.rrn, declineCode: approved ? null : answer.responseCode },
        { responseCode: answer.responseCode },
        'online_sent',
      );
      log.info({ txn: done.id, stan: done.stan, responseCode: answer.responseCode }, 'host answered');
      onProgress('done');
      return this.outcome(approved ? 'approved' : 'declined', done, approved ? null : answer.responseCode);
    } catch (err) {
      if (err instanceof HostTimeoutError || err instanceof HostUnreachableError) {
        // Whether or not the host got it, the only safe move is a reversal; never a re-send.
        const code = err instanceof HostTimeoutError ? 'HOST_TIMEOUT' : 'HOST_UNREACHABLE';
        const pending = journal.transition(sent.id, 'reversal_pending', { declineCode: code }, { reason: code }, 'online_sent');
        log.warn({ txn: pending.id, stan: pending.stan, code }, 'no answer from host; reversal pending');
        onProgress('done');
        return this.outcome('reversal_pending', pending, 'HOST_TIMEOUT');
      }
      throw err instanceof PosError ? err : new PosError('SALE_FAILED', 'sale failed unexpectedly', {}, { cause: err });
    }
  }

  private outcome(result: SaleResult, transaction: Transaction, code: string | null): SaleOutcome {
    const message = result === 'approved' ? 'APPROVED' : `DECLINED: ${explain(code ?? '').cashier.en}`;
    return { result, transaction, code, message };
  }
}
