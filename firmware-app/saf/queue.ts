import type { CurrencyCode } from '../core/money.js';
import type { OfflineExposure } from '../payments/offline-rules.js';
import type { SafItemView, SafRowState } from '../store/saf-repo.js';
import type { Store } from '../store/store.js';

export type { SafQueueState } from '../store/saf-repo.js';

/** Must run inside the transaction that makes the payment `offline_approved`; the forwarder wakes once it commits. */
export function enqueueSaf(
  store: Store,
  item: { transactionId: number; encryptedBlob: Buffer; expiry: string | null; now: number; iccData?: Buffer | undefined },
): void {
  store.saf.enqueue(item);
}

/** The offline exposure the offline rules weigh: what is approved offline and not yet forwarded. */
export function safExposure(store: Store, currency: CurrencyCode): OfflineExposure {
  return store.saf.exposure(currency);
}

/** Queue rows for technicians and the UI, newest first. */
export function listSafItems(store: Store, filter: { state?: SafRowState; limit?: number } = {}): SafItemView[] {
  return store.saf.list(filter);
}
