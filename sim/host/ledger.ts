/**
 * The simulated acquirer's book. It recognises repeats by terminal id + STAN and never
 * posts, reverses or voids anything twice, so tests can reconcile the terminal's journal
 * against what the "bank" actually holds.
 *
 * An entry's kind says what the terminal sent (a 0200 sale, refund or void, or a 0220
 * advice); its status what the host holds now: `posted` (money moves; for an advice this
 * is "advised"), `declined` (never posted), `reversed` (posted, then taken back by a
 * 0400) or `voided` (posted, then cancelled by an approved void).
 */
export type LedgerKind = 'sale' | 'refund' | 'void' | 'advice';
export type LedgerStatus = 'posted' | 'declined' | 'reversed' | 'voided';

export interface LedgerEntry {
  terminalId: string;
  stan: string;
  kind: LedgerKind;
  amount: number;
  /** ISO 4217 numeric (field 49). */
  currency: string;
  /** Field 60. */
  batch: number;
  status: LedgerStatus;
  responseCode: string;
  authCode: string | null;
  rrn: string;
  last4: string;
  /** How many transmissions carried this terminal id + STAN (repeats and duplicates included). */
  receivedCount: number;
  /** For a void: the STAN of the payment it cancels. */
  originalStan: string | null;
  postedAt: number;
  reversedAt: number | null;
  voidedAt: number | null;
  /** For a request with ICC data (field 55): whether the card's cryptogram (ARQC, or the TC of an advice) verified. */
  cryptogram?: 'verified' | 'failed';
}

export interface ReversalRecord {
  terminalId: string;
  /** The reversal's own STAN (0400 and its 0401 repeats). */
  stan: string;
  originalStan: string;
  /** What the reversal found: it reversed a posting, found nothing to do, or arrived before the original. */
  effect: 'reversed' | 'nothing' | 'orphan';
  receivedCount: number;
}

export interface SettlementRecord {
  terminalId: string;
  batch: number;
  responseCode: string;
  terminalTotals: string;
  hostTotals: string;
  receivedCount: number;
}

export interface LedgerSnapshot {
  entries: LedgerEntry[];
  reversals: ReversalRecord[];
  settlements: SettlementRecord[];
}

export class HostLedger {
  private readonly entries = new Map<string, LedgerEntry>();
  private readonly reversalMap = new Map<string, ReversalRecord>();
  private readonly settlementMap = new Map<string, SettlementRecord>();
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

  /** Postings that move money: approved and neither reversed nor voided. */
  posted(): LedgerEntry[] {
    return this.all().filter((e) => e.status === 'posted' && e.kind !== 'void');
  }

  totals(): { count: number; amount: number } {
    const posted = this.posted();
    return { count: posted.length, amount: posted.reduce((s, e) => s + (e.kind === 'refund' ? -e.amount : e.amount), 0) };
  }

  /** Field 63 as the host sees the batch: approved sales and advices, approved refunds, nothing reversed or voided. */
  batchTotals(terminalId: string, batch: number): { salesCount: number; salesAmount: number; refundsCount: number; refundsAmount: number } {
    const t = { salesCount: 0, salesAmount: 0, refundsCount: 0, refundsAmount: 0 };
    for (const e of this.posted()) {
      if (e.terminalId !== terminalId || e.batch !== batch) continue;
      if (e.kind === 'refund') {
        t.refundsCount++;
        t.refundsAmount += e.amount;
      } else {
        t.salesCount++;
        t.salesAmount += e.amount;
      }
    }
    return t;
  }

  reversal(terminalId: string, stan: string): ReversalRecord | undefined {
    return this.reversalMap.get(HostLedger.key(terminalId, stan));
  }

  recordReversal(r: ReversalRecord): void {
    this.reversalMap.set(HostLedger.key(r.terminalId, r.stan), r);
    if (r.effect === 'orphan') this.orphanReversals.push({ terminalId: r.terminalId, stan: r.originalStan });
  }

  /** Whether a reversal for this original arrived before the original itself. */
  hasOrphanReversal(terminalId: string, originalStan: string): boolean {
    return this.orphanReversals.some((o) => o.terminalId === terminalId && o.stan === originalStan);
  }

  settlement(terminalId: string, batch: number): SettlementRecord | undefined {
    return this.settlementMap.get(HostLedger.key(terminalId, String(batch)));
  }

  recordSettlement(s: SettlementRecord): void {
    this.settlementMap.set(HostLedger.key(s.terminalId, String(s.batch)), s);
  }

  /** Takes back what an earlier run held (its `snapshot()`), so a restarted host remembers its postings. */
  restore(s: LedgerSnapshot): void {
    for (const e of s.entries) this.record(e);
    for (const r of s.reversals) this.recordReversal(r);
    for (const x of s.settlements) this.recordSettlement(x);
  }

  /** Everything the host holds, as plain data (what `npm run reconcile` reads from a file). */
  snapshot(): LedgerSnapshot {
    return { entries: this.all(), reversals: [...this.reversalMap.values()], settlements: [...this.settlementMap.values()] };
  }
}
