/**
 * The simulated acquirer's book of postings. It recognises repeats by terminal id + STAN
 * (+ the original transmission day) and never posts the same payment twice, so tests can
 * reconcile the terminal's journal against what the "bank" actually holds.
 */
export type LedgerKind = 'sale' | 'refund' | 'advice';
export type LedgerStatus = 'posted' | 'declined' | 'reversed';

export interface LedgerEntry {
  terminalId: string;
  stan: string;
  kind: LedgerKind;
  amount: number;
  currency: string;
  status: LedgerStatus;
  responseCode: string;
  authCode: string | null;
  rrn: string;
  last4: string;
  receivedCount: number;
  postedAt: number;
  reversedAt: number | null;
}

export class HostLedger {
  private readonly entries = new Map<string, LedgerEntry>();
  /** Reversals for which the host never saw the original (it still acknowledges them). */
  readonly orphanReversals: { terminalId: string; stan: string }[] = [];

  static key(terminalId: string, stan: string): string {
    return `${terminalId}|${stan}`;
  }

  get(terminalId: string, stan: string): LedgerEntry | undefined {
    return this.entries.get(HostLedger.key(terminalId, stan));
  }

  record(entry: LedgerEntry): void {
    this.entries.set(HostLedger.key(entry.terminalId, entry.stan), entry);
  }

  all(): LedgerEntry[] {
    return [...this.entries.values()];
  }

  /** Postings that move money: approved and not reversed. */
  posted(): LedgerEntry[] {
    return this.all().filter((e) => e.status === 'posted');
  }

  totals(): { count: number; amount: number } {
    const posted = this.posted();
    return { count: posted.length, amount: posted.reduce((s, e) => s + (e.kind === 'refund' ? -e.amount : e.amount), 0) };
  }
}
