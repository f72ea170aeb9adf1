import type { Clock } from '../../drivers/base/clock.js';
import { AmountError } from '../../firmware-app/core/money.js';
import type { LoginResult } from '../../firmware-app/ui/diagnostics/pin.js';
import type {
  BatchReports,
  CashierPort,
  PaymentResult,
  Progress,
  StatusSnapshot,
  TxnQuery,
  TxnView,
} from '../../firmware-app/ui/terminal-port.js';
import { FeatureUnavailableError } from '../../firmware-app/ui/terminal-port.js';
import type { Language } from '../../firmware-app/ui/cashier/strings.js';

export const NOW = new Date(2026, 10, 23, 14, 30, 0).getTime();

/** Time stands still and the status refresh never fires on its own: the tests call it. */
export const stillClock: Clock = { now: () => NOW, setTimeout: () => ({}), clearTimeout: () => undefined };

export function txn(over: Partial<TxnView> = {}): TxnView {
  return {
    id: 1,
    type: 'sale',
    state: 'approved',
    amount: 1234,
    currency: 'CNY',
    last4: '1111',
    authCode: 'A00001',
    rrn: '000000000001',
    stan: '000001',
    declineCode: null,
    createdAt: NOW - 60_000,
    ...over,
  };
}

/** The terminal behind the cashier console, scripted by the test. */
export class FakePort implements CashierPort {
  readonly currency = 'CNY' as const;
  readonly language = 'en' as const;
  readonly timeouts = { cardMs: 30_000, hostMs: 30_000 };
  supervisorRequired = true;
  /** The supervisor PIN this fake accepts; every wrong one counts down `supervisorAttempts`, then it locks. */
  supervisorPin = '1111';
  supervisorAttempts = 3;
  operators: string[] = [];
  /** What the customer display was asked to show, line pairs in order. */
  customer: string[][] = [];
  signIn(operator: string): void {
    this.operators.push(operator);
  }
  checkSupervisor(pin: string): LoginResult {
    if (this.supervisorAttempts <= 0) return { ok: false, reason: 'locked', lockedForMs: 60_000 };
    if (pin === this.supervisorPin) return { ok: true };
    this.supervisorAttempts--;
    return this.supervisorAttempts <= 0
      ? { ok: false, reason: 'locked', lockedForMs: 60_000 }
      : { ok: false, reason: 'wrong-pin', attemptsLeft: this.supervisorAttempts };
  }
  showCustomer(line1: string, line2?: string): void {
    this.customer.push(line2 === undefined ? [line1] : [line1, line2]);
  }
  statusValue: StatusSnapshot = { host: 'online', reader: 'connected', printer: 'ready', safDepth: 0 };
  next: PaymentResult = { approved: true, code: null, transaction: txn(), printed: true };
  progress: Progress[] = ['waiting-for-card', 'card-read', 'waiting-for-host', 'printing'];
  sales: number[] = [];
  reprinted: number[] = [];
  queries: TxnQuery[] = [];
  cancelled = 0;
  /** When set, the sale waits for cancel() before answering. */
  waitForCancel = false;
  private release: (() => void) | undefined;
  txns: TxnView[] = [txn()];
  slipLanguages: Language[] = [];

  setSlipLanguage(language: Language): void {
    this.slipLanguages.push(language);
  }

  polls = 0;
  pollDevices(): Promise<void> {
    this.polls++;
    return Promise.resolve();
  }
  status(): StatusSnapshot {
    return this.statusValue;
  }
  validateAmount(amount: number): void {
    if (amount <= 0) throw new AmountError('amount must be a positive whole number of minor units');
    if (amount > 10_000_000)
      throw new AmountError('amount 100000.01 is over the terminal limit 100000.00', { reason: 'AMOUNT_OVER_LIMIT' });
  }
  async sale(amount: number, onProgress: (p: Progress) => void): Promise<PaymentResult> {
    this.sales.push(amount);
    onProgress('waiting-for-card');
    if (this.waitForCancel) {
      await new Promise<void>((r) => (this.release = r));
      return {
        approved: false,
        cancelled: true,
        code: 'CASHIER_CANCELLED',
        transaction: txn({ state: 'cancelled', declineCode: 'CASHIER_CANCELLED', last4: null }),
        printed: false,
      };
    }
    if (this.holdAtHost) {
      onProgress('card-read');
      onProgress('waiting-for-host');
      await new Promise<void>((r) => (this.release = r));
      return this.next;
    }
    for (const p of this.progress.slice(1)) onProgress(p);
    return this.next;
  }
  /** When set, the sale stops at "Waiting for host..." until `answer()`. */
  holdAtHost = false;
  answer(): void {
    this.release?.();
  }
  refunds: { amount: number; originalId: number | undefined }[] = [];
  voided: number[] = [];
  refundAvailable = true;
  refund(amount: number, originalId: number | undefined): Promise<PaymentResult> {
    if (!this.refundAvailable) return Promise.reject(new FeatureUnavailableError('refund'));
    this.refunds.push({ amount, originalId });
    return Promise.resolve({ approved: true, code: null, transaction: txn({ id: 99, type: 'refund', amount }), printed: true });
  }
  voidTransaction(id: number): Promise<PaymentResult> {
    this.voided.push(id);
    return Promise.resolve({ approved: true, code: null, transaction: txn({ id: 100, type: 'void' }), printed: true });
  }
  transaction(id: number): TxnView | undefined {
    return this.txns.find((t) => t.id === id);
  }
  /** What cancel() answers once the sale is past the card read. */
  cancelAnswer: 'cancelling' | 'too-late' = 'cancelling';
  notVoidable: string | null = null;
  async cancel(): Promise<'cancelling' | 'too-late' | 'idle'> {
    this.cancelled++;
    if (this.cancelAnswer === 'too-late') return 'too-late';
    this.release?.();
    return 'cancelling';
  }
  whyNotVoidable(): string | null {
    return this.notVoidable;
  }
  reprint(id: number): Promise<{ printed: boolean }> {
    this.reprinted.push(id);
    return Promise.resolve({ printed: true });
  }
  lastTransaction(): TxnView | undefined {
    return this.txns.at(-1);
  }
  lastDecline(): TxnView | undefined {
    return this.txns.filter((t) => t.declineCode).at(-1);
  }
  reports: BatchReports = {
    current: {
      batchNumber: 3,
      openedAt: NOW - 3_600_000,
      sales: { count: 4, amount: 10_000 },
      refunds: { count: 1, amount: 1_500 },
      voids: { count: 1, amount: 900 },
      offlinePending: 2,
      undecided: 0,
    },
  };
  batchReports(): BatchReports {
    return this.reports;
  }
  find(q: TxnQuery): TxnView[] {
    this.queries.push(q);
    const offset = q.offset ?? 0;
    return this.txns
      .filter((t) => (q.last4 === undefined || t.last4 === q.last4) && (q.amount === undefined || t.amount === q.amount))
      .slice(offset, offset + (q.limit ?? 20));
  }
}
