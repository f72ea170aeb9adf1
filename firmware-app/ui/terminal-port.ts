import { PosError } from '../../drivers/base/errors.js';
import type { CurrencyCode } from '../core/money.js';
import type { RetryAdvice } from '../payments/retry-advice.js';
import type { Language } from './cashier/strings.js';
import type { LoginResult } from './diagnostics/pin.js';

/**
 * What the cashier console and the diagnostic menu need from the running terminal. The
 * UIs depend only on this; `TerminalAdapter` implements it over `Terminal`, unit tests
 * with a fake.
 */

export interface StatusSnapshot {
  host: 'online' | 'offline' | 'degraded';
  reader: string;
  printer: string;
  safDepth: number;
}

/** Steps of a long operation the cashier is shown while it runs. */
export type Progress =
  'waiting-for-card' | 'card-read' | 'entering-pin' | 'sending-pending-reversal' | 'waiting-for-host' | 'printing' | 'done';

export interface TxnView {
  id: number;
  type: 'sale' | 'refund' | 'void';
  state: string;
  amount: number;
  currency: CurrencyCode;
  last4: string | null;
  authCode: string | null;
  rrn: string | null;
  stan: string | null;
  declineCode: string | null;
  createdAt: number;
}

export interface PaymentResult {
  approved: boolean;
  /** Cancelled before anything was sent: not a decline. */
  cancelled?: boolean;
  /** A device fault ended it before anything was sent: nothing charged, not a decline. */
  notCompleted?: boolean;
  /** Approved by the terminal's offline rules; forwarded to the host later (SAF). */
  offline?: boolean;
  /** Catalog code explaining a non-approval. */
  code: string | null;
  /** For a payment being reversed: what ringing it again would do now. */
  retry?: RetryAdvice;
  transaction: TxnView;
  printed: boolean;
  printError?: string;
}

export interface TxnQuery {
  /** Minor units. */
  amount?: number;
  /** Epoch milliseconds, inclusive. */
  from?: number;
  to?: number;
  last4?: string;
  authCode?: string;
  rrn?: string;
  limit?: number;
  /** Results to skip (newest first), for paging. */
  offset?: number;
}

/** Count and amount (minor units) of one line of a batch. */
export interface TallyView {
  count: number;
  amount: number;
}

export interface BatchReports {
  /** The X report: the open batch so far, in the terminal's currency. */
  current: {
    batchNumber: number;
    openedAt: number;
    sales: TallyView;
    refunds: TallyView;
    voids: TallyView;
    /** Approved offline, not yet accepted by the host. */
    offlinePending: number;
    /** Sent, being reversed or being voided: the host's figures may still differ. */
    undecided: number;
  };
  /** The last batch settlement closed, with the figures agreed with the host. */
  last?: {
    batchNumber: number;
    closedAt: number | null;
    inBalance: boolean;
    totals: { salesCount: number; salesAmount: number; refundsCount: number; refundsAmount: number } | null;
    /** A catch-up run (the terminal was off at its time): the slot, whose day is the business day it closes. */
    catchUpFor: number | null;
  };
}

export interface QueueInfo {
  name: QueueName;
  count: number;
  /** Epoch milliseconds of the oldest waiting item. */
  oldestAt: number | null;
}

export type QueueName = 'saf' | 'reversals' | 'outbox' | 'print';
export const QUEUE_NAMES: readonly QueueName[] = ['saf', 'reversals', 'outbox', 'print'];

export interface DrainProgress {
  done: number;
  total: number;
}

export interface DrainResult extends DrainProgress {
  /** Items still waiting when the drain gave up (host still down, paper out...). */
  remaining: number;
}

export interface DeviceInfo {
  terminalId: string;
  merchantId: string;
  version: string;
  node: string;
  uptimeSeconds: number;
  schemaVersion: number;
  reader: { path: string; state: string; vendor?: string; model?: string; serial?: string; firmware?: string; error?: string };
  printer: { path: string; state: string };
  host: { address: string; port: number; state: string };
}

export interface CardTestResult {
  ok: boolean;
  /** BIN + last four at most. */
  maskedPan?: string;
  entryMode?: string;
  error?: string;
}

export interface EchoResult {
  ok: boolean;
  rttMs: number;
  responseCode?: string;
  error?: string;
}

export interface DeclineStat {
  code: string;
  count: number;
  text: string;
  category: string;
}

export interface AlertView {
  id: number;
  severity: string;
  message: string;
  raisedAt: number;
  clearedAt: number | null;
}

export interface JobRunView {
  job: string;
  startedAt: number;
  finishedAt: number | null;
  outcome: string;
  error: string | null;
}

export interface BundleResult {
  path: string;
  bytes: number;
}

export interface AuditEntry {
  actor: string;
  action: string;
  detail?: Record<string, unknown>;
  outcome: string;
}

/** A feature the running build does not offer (yet): the menu says so instead of failing. */
export class FeatureUnavailableError extends PosError {
  constructor(feature: string) {
    super('UI_FEATURE_UNAVAILABLE', `${feature} is not available on this terminal`, { feature });
  }
}

export interface CashierPort {
  readonly currency: CurrencyCode;
  readonly language: Language;
  /** Slips printed from now on use this language (the cashier switched the console). */
  setSlipLanguage(language: Language): void;
  /** How long the reader waits for a card and the host for its answer (the console's countdowns). */
  readonly timeouts: { cardMs: number; hostMs: number };
  /** Refund and void need the supervisor PIN (ui.supervisorRequired); a refund without its original always does. */
  readonly supervisorRequired: boolean;
  /** The operator number (操作员号) typed at sign-in, journaled with each payment from now on. */
  signIn(operator: string): void;
  checkSupervisor(pin: string): LoginResult;
  /** Shows a result or the idle text on the reader's customer display; a display failure is not the cashier's concern. */
  showCustomer(line1: string, line2?: string): void;
  status(): StatusSnapshot;
  /** Asks the devices for their status now (the printer is otherwise heard from only when it prints). */
  pollDevices(): Promise<void>;
  /** Throws a PosError (AMOUNT_INVALID...) when the amount is not acceptable. */
  validateAmount(amount: number): void;
  sale(amount: number, onProgress: (p: Progress) => void): Promise<PaymentResult>;
  /** Refund (online only), linked to its original sale when known. */
  refund(amount: number, originalId: number | undefined, onProgress: (p: Progress) => void): Promise<PaymentResult>;
  voidTransaction(id: number, onProgress: (p: Progress) => void): Promise<PaymentResult>;
  /** Why the payment cannot be voided (asked before the cashier confirms), or null. */
  whyNotVoidable(id: number): string | null;
  /**
   * Aborts the card read or PIN entry in progress. 'too-late' once the request is with the
   * host (its answer decides; a void is the way back), 'idle' when nothing was running.
   */
  cancel(): Promise<'cancelling' | 'too-late' | 'idle'>;
  reprint(id: number): Promise<{ printed: boolean; error?: string }>;
  transaction(id: number): TxnView | undefined;
  lastTransaction(): TxnView | undefined;
  lastDecline(): TxnView | undefined;
  find(query: TxnQuery): TxnView[];
  batchReports(): BatchReports;
}

export interface DiagnosticsPort {
  deviceInfo(): Promise<DeviceInfo>;
  status(): StatusSnapshot;
  cardReadTest(): Promise<CardTestResult>;
  testPrint(): Promise<{ printed: boolean; error?: string }>;
  hostEcho(): Promise<EchoResult>;
  queues(): QueueInfo[];
  drain(queue: QueueName, onProgress: (p: DrainProgress) => void): Promise<DrainResult>;
  declineStats(): DeclineStat[];
  alerts(): AlertView[];
  jobs(): JobRunView[];
  jobNames(): string[];
  runJob(name: string): Promise<string>;
  logTail(lines: number): string[];
  /** Changes the log level of the whole running process (not persisted: a restart reads the config). */
  setLogLevel(level: string): string;
  /** The effective configuration with secrets masked. */
  config(): Record<string, unknown>;
  exportBundle(): Promise<BundleResult>;
  audit(entry: AuditEntry): void;
}

export type TerminalPort = CashierPort & DiagnosticsPort;
