import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { exitStatus, reconcile, type HostPosting, type JournalRecord } from '../../firmware-app/reconcile/reconcile.js';

const T = 'TERM0001';
let nextId = 1;
const txn = (stan: string | null, state: JournalRecord['state'], extra: Partial<JournalRecord> = {}): JournalRecord => ({
  id: nextId++,
  type: 'sale',
  state,
  amount: 1234,
  currency: 'CNY',
  stan,
  ...extra,
});
const posting = (stan: string, status: HostPosting['status'], extra: Partial<HostPosting> = {}): HostPosting => ({
  terminalId: T,
  stan,
  kind: 'sale',
  amount: 1234,
  currency: '156',
  status,
  ...extra,
});

describe('reconcile', () => {
  it('is clean when every state matches what the host holds', () => {
    const journal = [
      txn('000001', 'approved'),
      txn('000002', 'declined'),
      txn('000003', 'reversed'),
      txn('000004', 'reversed'),
      txn(null, 'declined_local'),
      txn('000005', 'forwarded_approved'),
      txn('000007', 'offline_approved'),
      txn('000008', 'voided'),
      txn('000009', 'approved', { type: 'void' }),
      txn('000010', 'approved', { type: 'refund', amount: 500 }),
    ];
    const ledger = [
      posting('000001', 'posted'),
      posting('000002', 'declined'),
      posting('000003', 'reversed'),
      // 000004: reversal arrived before (or instead of) the original: no entry at all.
      posting('000005', 'posted', { kind: 'advice' }),
      posting('000008', 'voided'),
      posting('000009', 'posted', { kind: 'void' }),
      posting('000010', 'posted', { kind: 'refund', amount: 500 }),
      posting('000001', 'posted', { terminalId: 'TERM0002' }),
    ];
    const result = reconcile(journal, ledger, T);
    expect(result).toMatchObject({ clean: true, checked: 10, mismatches: [], merchantLoss: {} });
    expect(exitStatus(result)).toBe(0);
  });

  it('lists every kind of difference', () => {
    const journal = [
      txn('000001', 'approved'),
      txn('000002', 'reversed'),
      txn('000003', 'approved', { amount: 999 }),
      txn('000004', 'voided'),
      txn('000005', 'reversal_pending'),
      txn('000006', 'forwarded_approved'),
    ];
    const ledger = [
      posting('000002', 'posted'),
      posting('000003', 'posted'),
      posting('000004', 'posted'),
      posting('000005', 'posted'),
      posting('000006', 'posted', { kind: 'sale' }),
      posting('000042', 'posted'),
    ];
    const result = reconcile(journal, ledger, T);
    expect(result.clean).toBe(false);
    expect(result.mismatches.map((m) => [m.stan, m.kind])).toEqual([
      ['000001', 'missing'],
      ['000002', 'extra'],
      ['000003', 'different-details'],
      ['000004', 'extra'],
      ['000005', 'extra'],
      ['000006', 'different-details'],
      ['000042', 'extra'],
    ]);
  });

  // The blind spot: postings keyed by STAN in a map let a second posting overwrite the first, and a refused advice passed.
  const books = () => ({
    journal: [
      txn('000101', 'approved', { id: 101 }),
      txn('000102', 'approved', { id: 102 }),
      txn('000103', 'approved', { id: 103, amount: 5000 }),
      txn('000104', 'forwarded_declined', { id: 104, amount: 4200 }),
      txn('000105', 'approved', { id: 105 }),
    ],
    ledger: [
      posting('000101', 'posted'),
      posting('000101', 'posted'),
      // 000102: never reached the host.
      posting('000103', 'posted', { amount: 500 }),
      posting('000104', 'declined', { kind: 'advice', amount: 4200 }),
      posting('000105', 'posted'),
    ],
  });

  it('puts a double posting, a missing one, a changed amount and a refused advice each in its class', () => {
    const { journal, ledger } = books();
    const result = reconcile(journal, ledger, T);
    expect(result.mismatches.map((m) => [m.stan, m.kind, m.amount])).toEqual([
      ['000101', 'duplicate', 1234],
      ['000102', 'missing', 1234],
      ['000103', 'different-details', 5000],
      ['000104', 'merchant-loss', 4200],
    ]);
    expect(result.counts).toEqual({ duplicate: 1, missing: 1, extra: 0, 'different-details': 1, 'merchant-loss': 1 });
    expect(result.merchantLoss).toEqual({ CNY: 4200 });
    expect(result.clean).toBe(false);
    expect(exitStatus(result)).toBe(1);
  });

  it('a STAN the terminal used twice (counters rolled back by a restore) is a duplicate, and the reuse shows as a different amount', () => {
    const journal = [txn('000201', 'forwarded_approved', { id: 201, amount: 700 })];
    // The host posted a sale lost with the restore, then answered "already posted" to the new advice on the same STAN.
    const ledger = [
      posting('000201', 'posted', { kind: 'advice', amount: 300 }),
      posting('000201', 'posted', { kind: 'advice', amount: 300 }),
    ];
    expect(reconcile(journal, ledger, T).mismatches.map((m) => m.kind)).toEqual(['duplicate', 'different-details']);
    const twice = [txn('000301', 'approved', { id: 301 }), txn('000301', 'approved', { id: 302 })];
    expect(reconcile(twice, [posting('000301', 'posted')], T).mismatches.map((m) => m.kind)).toEqual(['duplicate']);
  });

  it('merchant losses alone exit 3: the books agree but the merchant is not paid', () => {
    const result = reconcile(
      [txn('000401', 'forwarded_declined'), txn('000402', 'expired')],
      [posting('000401', 'declined', { kind: 'advice' })],
      T,
    );
    expect(result.mismatches.map((m) => m.kind)).toEqual(['merchant-loss', 'merchant-loss']);
    expect(exitStatus(result)).toBe(3);
  });

  it('the command reads a database and a ledger file, prints each class and exits non-zero; --json for scripts', () => {
    const dir = mkdtempSync(join(tmpdir(), 'reconcile-'));
    const db = new Database(join(dir, 'pos-companion.db'));
    db.exec('CREATE TABLE transactions (id INTEGER PRIMARY KEY, type TEXT, state TEXT, amount INTEGER, currency TEXT, stan TEXT)');
    const insert = db.prepare('INSERT INTO transactions VALUES (?, ?, ?, ?, ?, ?)');
    const { journal, ledger } = books();
    for (const r of journal) insert.run(r.id, r.type, r.state, r.amount, r.currency, r.stan);
    db.close();
    writeFileSync(join(dir, 'ledger.json'), JSON.stringify({ entries: ledger }));
    const cli = join(import.meta.dirname, '..', '..', 'dist', 'firmware-app', 'reconcile', 'cli.js');
    const run = (...extra: string[]) => {
      try {
        return {
          status: 0,
          stdout: execFileSync(
            process.execPath,
            [cli, '--db', join(dir, 'pos-companion.db'), '--ledger', join(dir, 'ledger.json'), ...extra],
            { encoding: 'utf8' },
          ),
        };
      } catch (err) {
        const e = err as { status: number; stdout: string };
        return { status: e.status, stdout: e.stdout };
      }
    };
    const text = run();
    expect(text.status).toBe(1);
    expect(text.stdout).toContain('duplicate 1, missing 1, different-details 1, merchant-loss 1');
    expect(text.stdout).toContain('STAN 000101 sale (transaction 101): duplicate');
    expect(text.stdout).toContain('merchant loss: 4200 minor units of CNY');
    const json = run('--json');
    expect(json.status).toBe(1);
    const parsed = JSON.parse(json.stdout) as { counts: Record<string, number>; merchantLoss: Record<string, number> };
    expect(parsed.counts).toMatchObject({ duplicate: 1, missing: 1, 'different-details': 1, 'merchant-loss': 1 });
    expect(parsed.merchantLoss).toEqual({ CNY: 4200 });
  });
});
