import { createCipheriv, createDecipheriv, createSecretKey, randomBytes, type KeyObject } from 'node:crypto';
import { SimError } from '../errors.js';
import { DukptDevice, KSN_BYTES, workingKeyFromBdk } from './dukpt.js';

/**
 * The encrypted card-data blob of docs/protocols/card-reader.md section 7 and
 * host-iso8583.md section 4.3:
 *
 *   version (1 byte, 0x01) || KSN (12) || IV (12) || ciphertext (n) || GCM tag (16)
 *
 * AES-128-GCM under the AES DUKPT "data encryption, encrypt" working key of that KSN,
 * with version || KSN as additional authenticated data, so neither can be swapped without
 * the host noticing. The plaintext is a UTF-8 JSON object (CardPlaintext).
 */
const CARD_BLOB_VERSION = 0x01;
const HEADER_BYTES = 1 + KSN_BYTES;
const IV_BYTES = 12;
const TAG_BYTES = 16;
/** The plaintext that keeps a READ answer within the 1024-byte frame (card-reader.md section 7). */
const MAX_PLAINTEXT_BYTES = 631;

export type EntryMode = 'CHIP' | 'CTLS' | 'SWIPE' | 'MANUAL';

export interface CardPlaintext {
  pan: string;
  expiry: string;
  entryMode: EntryMode;
}

/** Why a blob was refused; never its content. */
export class CardBlobError extends SimError {
  constructor(problem: string) {
    super('SIM_CARD_BLOB', `card-data blob ${problem}`);
  }
}

const ENTRY_MODES: readonly string[] = ['CHIP', 'CTLS', 'SWIPE', 'MANUAL'];

function plaintextProblem(card: Partial<Record<keyof CardPlaintext, unknown>>): string | undefined {
  if (typeof card.pan !== 'string' || !/^\d{12,19}$/.test(card.pan)) return 'has no PAN of 12 to 19 digits';
  if (typeof card.expiry !== 'string' || !/^\d{2}(?:0[1-9]|1[0-2])$/.test(card.expiry)) return 'has no YYMM expiry';
  if (typeof card.entryMode !== 'string' || !ENTRY_MODES.includes(card.entryMode)) return 'has no known entry mode';
  return undefined;
}

/** The reader's side: the next KSN of `device`, its data key, a fresh IV unless one is given (worked examples). */
export function sealCardBlob(device: DukptDevice, card: CardPlaintext, iv: Buffer = randomBytes(IV_BYTES)): Buffer {
  const problem = plaintextProblem(card);
  if (problem) throw new CardBlobError(`plaintext ${problem}`);
  const plaintext = Buffer.from(JSON.stringify({ pan: card.pan, expiry: card.expiry, entryMode: card.entryMode }), 'utf8');
  if (plaintext.length > MAX_PLAINTEXT_BYTES) throw new CardBlobError(`plaintext exceeds ${MAX_PLAINTEXT_BYTES} bytes`);
  if (iv.length !== IV_BYTES) throw new CardBlobError(`IV is not ${IV_BYTES} bytes`);
  const ksn = device.nextKsn();
  const header = Buffer.concat([Buffer.from([CARD_BLOB_VERSION]), ksn]);
  const cipher = createCipheriv('aes-128-gcm', device.workingKey(ksn, 'dataEncrypt'), iv).setAAD(header);
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return Buffer.concat([header, iv, ciphertext, cipher.getAuthTag()]);
}

/** Data keys the host imported lately, by BDK and KSN. */
const recentDataKeys = new Map<string, KeyObject>();
const RECENT_DATA_KEYS = 1024;

/**
 * The data key of a KSN as a key object: a cipher given raw key bytes imports them on every
 * call, which cost the simulated host more than the decryption of an advice's blob.
 */
function dataKey(bdk: Buffer, ksn: Buffer): KeyObject {
  const id = `${bdk.toString('hex')}:${ksn.toString('hex')}`;
  let key = recentDataKeys.get(id);
  if (!key) {
    key = createSecretKey(workingKeyFromBdk(bdk, ksn, 'dataEncrypt'));
    if (recentDataKeys.size >= RECENT_DATA_KEYS) recentDataKeys.delete(recentDataKeys.keys().next().value!);
    recentDataKeys.set(id, key);
  }
  return key;
}

/**
 * The host's side: the data key from the BDK and the blob's KSN, then the tag check
 * before any plaintext is read. Every failure is a CardBlobError (the host answers 30).
 */
export function openCardBlob(bdk: Buffer, blob: Buffer): { ksn: Buffer; card: CardPlaintext } {
  if (blob.length < HEADER_BYTES + IV_BYTES + 1 + TAG_BYTES) throw new CardBlobError('is too short');
  if (blob[0] !== CARD_BLOB_VERSION) throw new CardBlobError('has an unknown version');
  const header = blob.subarray(0, HEADER_BYTES);
  const ksn = Buffer.from(header.subarray(1));
  let key: KeyObject;
  try {
    key = dataKey(bdk, ksn);
  } catch {
    throw new CardBlobError('has an unusable KSN');
  }
  const iv = blob.subarray(HEADER_BYTES, HEADER_BYTES + IV_BYTES);
  const decipher = createDecipheriv('aes-128-gcm', key, iv).setAAD(header);
  decipher.setAuthTag(blob.subarray(blob.length - TAG_BYTES));
  let plaintext: Buffer;
  try {
    plaintext = Buffer.concat([decipher.update(blob.subarray(HEADER_BYTES + IV_BYTES, blob.length - TAG_BYTES)), decipher.final()]);
  } catch {
    throw new CardBlobError('fails authentication');
  }
  let card: unknown;
  try {
    card = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(plaintext));
  } catch {
    throw new CardBlobError('plaintext is not a UTF-8 JSON object');
  }
  if (typeof card !== 'object' || card === null || Array.isArray(card)) throw new CardBlobError('plaintext is not a JSON object');
  const problem = plaintextProblem(card);
  if (problem) throw new CardBlobError(`plaintext ${problem}`);
  const { pan, expiry, entryMode } = card as CardPlaintext;
  return { ksn, card: { pan, expiry, entryMode } };
}
