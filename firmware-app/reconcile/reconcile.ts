import { CURRENCIES, isCurrencyCode } from '../core/money.js';
import type { TxnState, TxnType } from '../payments/lifecycle.js';

/** What reconcile needs of a journal row (a `Transaction` is one). */
export interface JournalRecord {
  id: number;
  type: TxnType;
  state: TxnState;
  amount: number;
  /** ISO 4217 alpha code. */
  currency: string;
  stan: string | null;
}

/** What reconcile needs of a host ledger entry (the simulator's `LedgerEntry` is one). */
export interface HostPosting {
  terminalId: string;
  stan: string;
  kind: 'sale' | 'refund' | 'void' | 'advice';
  amount: number;
  /** ISO 4217 numeric code (field 49). */
  currency: string;
  status: 'posted' | 'declined' | 'reversed' | 'voided';
}

export type MismatchKind =
  /** The terminal holds it as approved (or forwarded) but the host has no posting. */
  | 'missing-posting'
  /** The host holds money the terminal does not consider taken (declined, reversed, pending reversal, ...). */
  | 'unexpected-posting'
  /** Both sides have it, with different amount, currency or kind. */
  | 'different-details'
  /** The terminal voided it but the host did not. */
  | 'not-voided'
  /** A host posting with no terminal transaction at all. */
  | 'unknown-posting';

export interface Mismatch {
  kind: MismatchKind;
  stan: string;
  transactionId: number | null;
  terminalState: TxnState | null;
  hostStatus: HostPosting['status'] | null;
  detail: string;
}

export interface ReconcileResult {
  clean: boolean;
  checked: number;
  mismatches: Mismatch[];
}

type Expectation = 'posted' | 'not-posted' | 'voided' | 'unknown';

/** What the host must hold for a transaction in each terminal state. */
const EXPECTED: Record<TxnState, Expectation> = {
  created: 'not-posted',
  card_read: 'not-posted',
  declined_local: 'not-posted',
  cancelled: 'not-posted',
  not_completed: 'not-posted',
  // The 0200 is in flight or its answer was lost: the host may or may not have it yet.
  online_sent: 'unknown',
  approved: 'posted',
  declined: 'not-posted',
  // The money must come back: until the 0410, a posting is a mismatch a person should see.
  reversal_pending: 'not-posted',
  reversed: 'not-posted',
  // Not forwarded yet: the host must not have it.
  offline_approved: 'not-posted',
  forwarded_approved: 'posted',
  forwarded_declined: 'not-posted',
  expired: 'not-posted',
  void_pending: 'unknown',
  voided: 'voided',
};

const EXPECTED_KIND: Record<TxnType, HostPosting['kind']> = { sale: 'sale', refund: 'refund', void: 'void' };

/**
 * Compares the terminal's journal with the host's ledger, transaction by transaction
 * (terminal id + STAN), and lists every difference: an approved payment must be posted
 * exactly once with the same amount; a declined, reversed or expired one must not be
 * posted; an offline sale forwarded as an advice must be advised once; a voided one must
 * be voided at the host too; and the host must hold nothing the terminal does not know.
 */
export function reconcile(journal: readonly JournalRecord[], ledger: readonly HostPosting[], terminalId: string): ReconcileResult {
  const postings = new Map<string, HostPosting>();
  for (const p of ledger) if (p.terminalId === terminalId) postings.set(p.stan, p);
  const mismatches: Mismatch[] = [];
  const seen = new Set<string>();
  let checked = 0;

  for (const txn of journal) {
    if (txn.stan === null) {
      // Never left the terminal: nothing to compare.
      checked++;
      continue;
    }
    checked++;
    seen.add(txn.stan);
    const host = postings.get(txn.stan);
    const moved = host?.status === 'posted' && host.kind !== 'void';
    const base = { stan: txn.stan, transactionId: txn.id, terminalState: txn.state, hostStatus: host?.status ?? null };
    const expectation = txn.type === 'void' && EXPECTED[txn.state] === 'posted' ? 'void-applied' : EXPECTED[txn.state];
    switch (expectation) {
      case 'posted':
      case 'void-applied':
        if (!host || host.status !== 'posted') {
          mismatches.push({
            ...base,
            kind: 'missing-posting',
            detail: `terminal says ${txn.state}, host ${host ? `has it ${host.status}` : 'has nothing'}`,
          });
        } else {
          const wantKind = txn.state === 'forwarded_approved' ? 'advice' : EXPECTED_KIND[txn.type];
          const numeric = isCurrencyCode(txn.currency) ? CURRENCIES[txn.currency].numeric : txn.currency;
          const diffs: string[] = [];
          if (host.amount !== txn.amount) diffs.push(`amount ${txn.amount} vs ${host.amount}`);
          if (host.currency !== numeric) diffs.push(`currency ${numeric} vs ${host.currency}`);
          if (host.kind !== wantKind) diffs.push(`kind ${wantKind} vs ${host.kind}`);
          if (diffs.length > 0) mismatches.push({ ...base, kind: 'different-details', detail: diffs.join(', ') });
        }
        break;
      case 'not-posted':
        if (moved) mismatches.push({ ...base, kind: 'unexpected-posting', detail: `terminal says ${txn.state}, host has it posted` });
        break;
      case 'voided':
        if (moved) mismatches.push({ ...base, kind: 'not-voided', detail: 'terminal voided it, host still has it posted' });
        break;
      case 'unknown':
        break;
    }
  }

  for (const p of postings.values()) {
    if (seen.has(p.stan) || p.status !== 'posted') continue;
    mismatches.push({
      kind: 'unknown-posting',
      stan: p.stan,
      transactionId: null,
      terminalState: null,
      hostStatus: p.status,
      detail: `host has a ${p.kind} of ${p.amount} the terminal has no record of`,
    });
  }
  return { clean: mismatches.length === 0, checked, mismatches };
}

/** One line per mismatch, for people. */
export function formatMismatch(m: Mismatch): string {
  return `STAN ${m.stan}${m.transactionId === null ? '' : ` (transaction ${m.transactionId})`}: ${m.kind}: ${m.detail}`;
}
