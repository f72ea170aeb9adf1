import type { CurrencyCode } from '../core/money.js';
import type { OfflineExposure } from '../payments/offline-rules.js';
import type { Db } from '../store/db.js';
import { safRepo, type SafItemView, type SafRowState } from '../store/saf-repo.js';

export type { SafQueueState } from '../store/saf-repo.js';

/** Must run inside the transaction that makes the payment `offline_approved`; the forwarder wakes once it commits. */
export function enqueueSaf(
  db: Db,
  item: { transactionId: number; encryptedBlob: Buffer; expiry: string | null; now: number; iccData?: Buffer | undefined },
): void {
  safRepo(db).enqueue(item);
}

/** The offline exposure the offline rules weigh: what is approved offline and not yet forwarded. */
export function safExposure(db: Db, currency: CurrencyCode): OfflineExposure {
  return safRepo(db).exposure(currency);
}

/** Queue rows for technicians and the UI, newest first. */
export function listSafItems(db: Db, filter: { state?: SafRowState; limit?: number } = {}): SafItemView[] {
  return safRepo(db).list(filter);
}
