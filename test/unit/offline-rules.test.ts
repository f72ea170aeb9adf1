import { describe, expect, it } from 'vitest';
import { configSchema } from '../../firmware-app/config/schema.js';
import {
  decideOffline,
  type OfflineCandidate,
  type OfflineExposure,
  type OfflineRules,
} from '../../firmware-app/payments/offline-rules.js';
import { explain } from '../../firmware-app/declines/catalog.js';

const NOW = 1_800_000_000_000;
const HOUR = 3_600_000;

const rules: OfflineRules = {
  enabled: true,
  floorLimit: 25_000,
  maxTotalAmount: 100_000,
  maxCount: 5,
  maxAgeMs: 24 * HOUR,
  entryModes: ['CHIP', 'CTLS'],
  hotListedTokens: ['aa'.repeat(32)],
};

const sale = (over: Partial<OfflineCandidate> = {}): OfflineCandidate => ({
  type: 'sale',
  amount: 1_000,
  entryMode: 'CHIP',
  panToken: 'bb'.repeat(32),
  pinRequired: false,
  ...over,
});
const empty: OfflineExposure = { count: 0, totalAmount: 0, oldestQueuedAt: null };
const queued = (over: Partial<OfflineExposure>): OfflineExposure => ({ ...empty, ...over });

const code = (c: OfflineCandidate, e: OfflineExposure = empty, r: OfflineRules = rules) => {
  const d = decideOffline(r, c, e, NOW);
  return d.approve ? 'APPROVE' : d.code;
};

describe('offline rules', () => {
  it('approve a small chip sale with an empty queue', () => {
    expect(code(sale())).toBe('APPROVE');
  });

  it('floor limit: at and just under approve, one minor unit over declines', () => {
    expect(code(sale({ amount: 24_999 }))).toBe('APPROVE');
    expect(code(sale({ amount: 25_000 }))).toBe('APPROVE');
    expect(code(sale({ amount: 25_001 }))).toBe('OFFLINE_FLOOR_LIMIT');
  });

  it('queued count cap: the payment that fills the queue approves, the next one declines', () => {
    expect(code(sale(), queued({ count: 3 }))).toBe('APPROVE');
    expect(code(sale(), queued({ count: 4 }))).toBe('APPROVE');
    expect(code(sale(), queued({ count: 5 }))).toBe('OFFLINE_COUNT_LIMIT');
  });

  it('cumulative amount cap counts this payment: reaching the cap approves, passing it declines', () => {
    expect(code(sale({ amount: 1_000 }), queued({ count: 1, totalAmount: 98_999 }))).toBe('APPROVE');
    expect(code(sale({ amount: 1_000 }), queued({ count: 1, totalAmount: 99_000 }))).toBe('APPROVE');
    expect(code(sale({ amount: 1_000 }), queued({ count: 1, totalAmount: 99_001 }))).toBe('OFFLINE_AMOUNT_LIMIT');
  });

  it('maximum age: an oldest queued payment at the age still approves, one millisecond older declines', () => {
    expect(code(sale(), queued({ count: 1, totalAmount: 1, oldestQueuedAt: NOW - 24 * HOUR + 1 }))).toBe('APPROVE');
    expect(code(sale(), queued({ count: 1, totalAmount: 1, oldestQueuedAt: NOW - 24 * HOUR }))).toBe('APPROVE');
    expect(code(sale(), queued({ count: 1, totalAmount: 1, oldestQueuedAt: NOW - 24 * HOUR - 1 }))).toBe('OFFLINE_QUEUE_TOO_OLD');
  });

  it('entry modes: chip and contactless by default, swipe and manual declined', () => {
    expect(code(sale({ entryMode: 'CTLS' }))).toBe('APPROVE');
    expect(code(sale({ entryMode: 'SWIPE' }))).toBe('OFFLINE_ENTRY_MODE');
    expect(code(sale({ entryMode: 'MANUAL' }))).toBe('OFFLINE_ENTRY_MODE');
    expect(code(sale({ entryMode: 'SWIPE' }), empty, { ...rules, entryModes: ['CHIP', 'CTLS', 'SWIPE'] })).toBe('APPROVE');
  });

  it('hot-listed PAN tokens decline, whatever the amount', () => {
    expect(code(sale({ panToken: 'aa'.repeat(32), amount: 1 }))).toBe('HOT_LISTED_CARD');
  });

  it('refunds and voids are never approved offline, even with offline enabled and tiny amounts', () => {
    expect(code(sale({ type: 'refund', amount: 1 }))).toBe('OFFLINE_REFUND_NOT_ALLOWED');
    expect(code(sale({ type: 'void', amount: 1 }))).toBe('OFFLINE_VOID_NOT_ALLOWED');
  });

  it('offline off declines every sale', () => {
    expect(code(sale({ amount: 1 }), empty, { ...rules, enabled: false })).toBe('OFFLINE_DISABLED');
  });

  it('a zero limit means no offline payments at all of that kind', () => {
    expect(code(sale({ amount: 1 }), empty, { ...rules, floorLimit: 0 })).toBe('OFFLINE_FLOOR_LIMIT');
    expect(code(sale({ amount: 1 }), empty, { ...rules, maxCount: 0 })).toBe('OFFLINE_COUNT_LIMIT');
  });

  it('reports the reason no other change would fix first (hot list before amount)', () => {
    expect(code(sale({ panToken: 'aa'.repeat(32), amount: 99_999, entryMode: 'SWIPE' }))).toBe('HOT_LISTED_CARD');
    expect(code(sale({ amount: 99_999, entryMode: 'SWIPE' }))).toBe('OFFLINE_ENTRY_MODE');
  });

  it('every decline code has its own catalog entry with cashier text in both languages', () => {
    const codes = [
      'OFFLINE_DISABLED',
      'OFFLINE_REFUND_NOT_ALLOWED',
      'OFFLINE_VOID_NOT_ALLOWED',
      'HOT_LISTED_CARD',
      'OFFLINE_ENTRY_MODE',
      'OFFLINE_FLOOR_LIMIT',
      'OFFLINE_COUNT_LIMIT',
      'OFFLINE_AMOUNT_LIMIT',
      'OFFLINE_QUEUE_TOO_OLD',
    ];
    const texts = new Set<string>();
    for (const c of codes) {
      const e = explain(c);
      expect(e.known, c).toBe(true);
      expect(e.cashier['zh-CN'].length).toBeGreaterThan(0);
      texts.add(e.cashier.en);
    }
    expect(texts.size).toBe(codes.length);
  });

  it('defaults: on, 250.00 per payment, 500 queued, 24 h, chip and contactless only', () => {
    const d = configSchema.parse({}).offline;
    expect(d).toEqual({
      enabled: true,
      floorLimit: 25_000,
      maxTotalAmount: 1_000_000,
      maxCount: 500,
      maxAgeMs: 24 * HOUR,
      entryModes: ['CHIP', 'CTLS'],
      hotListedTokens: [],
    });
  });

  it('a sale that needs a PIN is declined OFFLINE_PIN_REQUIRED, even within the floor limit, and before the floor limit is judged', () => {
    expect(decideOffline(rules, sale({ pinRequired: true }), empty, NOW)).toMatchObject({ approve: false, code: 'OFFLINE_PIN_REQUIRED' });
    expect(decideOffline(rules, sale({ pinRequired: true, amount: 30_000 }), empty, NOW)).toMatchObject({ code: 'OFFLINE_PIN_REQUIRED' });
  });
});
