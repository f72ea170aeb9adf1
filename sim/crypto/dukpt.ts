import { SimError } from '../errors.js';
import { aesEncryptBlock } from './aes-block.js';

/**
 * AES DUKPT as ANSI X9.24-3-2017 specifies it, with node:crypto only. A reader holds an
 * initial key (derived once from the BDK and its initial key ID, at key injection) and a
 * transaction counter; the host holds the BDK and derives the same working key from the
 * KSN that travels with each encrypted element.
 */
export type AesKeyType = 'AES128' | 'AES192' | 'AES256';

/** Key usage indicators of the derivation data (X9.24-3-2017, table 2). */
const KEY_USAGE = {
  keyEncryption: 0x0002,
  pinEncryption: 0x1000,
  macGeneration: 0x2000,
  macVerification: 0x2001,
  macBothWays: 0x2002,
  dataEncrypt: 0x3000,
  dataDecrypt: 0x3001,
  dataBothWays: 0x3002,
  keyDerivation: 0x8000,
  initialKey: 0x8001,
} as const;

export type KeyUsage = keyof typeof KEY_USAGE;

const ALGORITHM: Record<AesKeyType, { id: number; bits: number }> = {
  AES128: { id: 0x0002, bits: 128 },
  AES192: { id: 0x0003, bits: 192 },
  AES256: { id: 0x0004, bits: 256 },
};

export const KSN_BYTES = 12;
const INITIAL_KEY_ID_BYTES = 8;
/** A counter with more one-bits would need more intermediate keys than a device keeps. */
const MAX_ONE_BITS = 16;

export class DukptError extends SimError {}

function keyTypeOf(key: Buffer): AesKeyType {
  if (key.length === 16) return 'AES128';
  if (key.length === 24) return 'AES192';
  if (key.length === 32) return 'AES256';
  throw new DukptError('SIM_DUKPT_KEY_LENGTH', 'a DUKPT AES key is 16, 24 or 32 bytes', { length: key.length });
}

/** The 16 bytes fed to AES to derive one block of a key. */
function derivationData(usage: number, type: AesKeyType, tail: Buffer, block: number): Buffer {
  const data = Buffer.alloc(16);
  data[0] = 0x01; // version
  data[1] = block;
  data.writeUInt16BE(usage, 2);
  data.writeUInt16BE(ALGORITHM[type].id, 4);
  data.writeUInt16BE(ALGORITHM[type].bits, 6);
  tail.copy(data, 8);
  return data;
}

/** A key of `type` from `key`: one AES block per 128 bits, the block counter counting from 1. */
function derive(key: Buffer, usage: number, type: AesKeyType, tail: Buffer): Buffer {
  const bits = ALGORITHM[type].bits;
  const blocks = Math.ceil(bits / 128);
  const out = Buffer.concat(Array.from({ length: blocks }, (_, i) => aesEncryptBlock(key, derivationData(usage, type, tail, i + 1))));
  return out.subarray(0, bits / 8);
}

function checkInitialKeyId(initialKeyId: Buffer): void {
  if (initialKeyId.length !== INITIAL_KEY_ID_BYTES) {
    throw new DukptError('SIM_DUKPT_KSN', 'an initial key ID is 8 bytes (BDK ID and derivation ID)', { length: initialKeyId.length });
  }
}

/** The key a reader is injected with; the BDK itself never leaves the host. */
export function deriveInitialKey(bdk: Buffer, initialKeyId: Buffer): Buffer {
  checkInitialKeyId(initialKeyId);
  return derive(bdk, KEY_USAGE.initialKey, keyTypeOf(bdk), initialKeyId);
}

/** Derivation-data tail for everything below the initial key: derivation ID || counter. */
function counterTail(initialKeyId: Buffer, counter: number): Buffer {
  const tail = Buffer.alloc(8);
  initialKeyId.copy(tail, 0, 4, 8);
  tail.writeUInt32BE(counter, 4);
  return tail;
}

function oneBits(counter: number): number {
  let n = 0;
  for (let c = counter; c !== 0; c >>>= 1) n += c & 1;
  return n;
}

function lowestSetBit(counter: number): number {
  let bit = 1;
  while (Math.floor(counter / bit) % 2 === 0) bit *= 2;
  return bit;
}

export function isValidCounter(counter: number): boolean {
  return Number.isInteger(counter) && counter >= 1 && counter <= 0xffffffff && oneBits(counter) <= MAX_ONE_BITS;
}

/**
 * The next counter a device may use after `counter`: counters with more than 16 one-bits
 * are skipped by adding their lowest set bit, as the standard's device algorithm does.
 */
export function nextCounter(counter: number): number {
  let next = counter + 1;
  while (next <= 0xffffffff && oneBits(next) > MAX_ONE_BITS) next += lowestSetBit(next);
  if (next > 0xffffffff)
    throw new DukptError('SIM_DUKPT_EXHAUSTED', 'the device has used every transaction counter; it needs a new initial key');
  return next;
}

interface Ksn {
  initialKeyId: Buffer;
  counter: number;
}

/** KSN = initial key ID (8 bytes: BDK ID, derivation ID) || transaction counter (4 bytes, big-endian). */
function encodeKsn(ksn: Ksn): Buffer {
  checkInitialKeyId(ksn.initialKeyId);
  const out = Buffer.alloc(KSN_BYTES);
  ksn.initialKeyId.copy(out, 0);
  out.writeUInt32BE(ksn.counter, INITIAL_KEY_ID_BYTES);
  return out;
}

export function decodeKsn(bytes: Buffer): Ksn {
  if (bytes.length !== KSN_BYTES) throw new DukptError('SIM_DUKPT_KSN', 'an AES DUKPT KSN is 12 bytes', { length: bytes.length });
  const counter = bytes.readUInt32BE(INITIAL_KEY_ID_BYTES);
  if (!isValidCounter(counter)) throw new DukptError('SIM_DUKPT_KSN', 'the KSN holds a counter no device uses (0, or over 16 one-bits)');
  return { initialKeyId: Buffer.from(bytes.subarray(0, INITIAL_KEY_ID_BYTES)), counter };
}

/**
 * The intermediate derivation key for `counter`: starting from the initial key, one
 * derivation per set bit of the counter, most significant first. A device keeps these in
 * registers; deriving them on demand gives the same keys.
 */
export function derivationKeyFor(initialKey: Buffer, initialKeyId: Buffer, counter: number): Buffer {
  checkInitialKeyId(initialKeyId);
  if (!isValidCounter(counter)) throw new DukptError('SIM_DUKPT_KSN', 'not a valid transaction counter', { counter });
  const type = keyTypeOf(initialKey);
  let key = initialKey;
  let partial = 0;
  for (let bit = 31; bit >= 0; bit--) {
    const mask = 2 ** bit;
    if (Math.floor(counter / mask) % 2 === 0) continue;
    partial += mask;
    key = derive(key, KEY_USAGE.keyDerivation, type, counterTail(initialKeyId, partial));
  }
  return key;
}

/** The working key of one transaction, from the key the reader holds and the KSN. */
export function workingKeyFromInitialKey(initialKey: Buffer, ksn: Buffer, usage: KeyUsage, type: AesKeyType = 'AES128'): Buffer {
  const { initialKeyId, counter } = decodeKsn(ksn);
  const derivationKey = derivationKeyFor(initialKey, initialKeyId, counter);
  return derive(derivationKey, KEY_USAGE[usage], type, counterTail(initialKeyId, counter));
}

/** Working keys the host derived lately, by BDK, KSN, usage and type. */
const recentKeys = new Map<string, Buffer>();
const RECENT_KEYS = 1024;

/**
 * The same working key as the host derives it: from the BDK and the KSN that came with the
 * data. Every message with the same KSN (an advice and its repeats, a request and its MAC)
 * needs the same key, and deriving one costs a few dozen AES operations: the simulated host
 * remembers the last ones, so its share of a store-and-forward drain stays small next to
 * the terminal's, which is what the drain bench measures.
 */
export function workingKeyFromBdk(bdk: Buffer, ksn: Buffer, usage: KeyUsage, type: AesKeyType = 'AES128'): Buffer {
  const id = `${bdk.toString('hex')}:${ksn.toString('hex')}:${usage}:${type}`;
  const known = recentKeys.get(id);
  if (known) return Buffer.from(known);
  const { initialKeyId } = decodeKsn(ksn);
  const key = workingKeyFromInitialKey(deriveInitialKey(bdk, initialKeyId), ksn, usage, type);
  if (recentKeys.size >= RECENT_KEYS) recentKeys.delete(recentKeys.keys().next().value!);
  recentKeys.set(id, Buffer.from(key));
  return key;
}

/**
 * A reader's key state: its initial key, its initial key ID and the counter of its last
 * transaction. Each `nextKsn()` moves to the next usable counter and never goes back.
 */
export class DukptDevice {
  private counter: number;

  constructor(
    private readonly initialKey: Buffer,
    private readonly initialKeyId: Buffer,
    lastCounter = 0,
  ) {
    keyTypeOf(initialKey);
    checkInitialKeyId(initialKeyId);
    this.counter = lastCounter;
  }

  nextKsn(): Buffer {
    this.counter = nextCounter(this.counter);
    return encodeKsn({ initialKeyId: this.initialKeyId, counter: this.counter });
  }

  workingKey(ksn: Buffer, usage: KeyUsage, type: AesKeyType = 'AES128'): Buffer {
    return workingKeyFromInitialKey(this.initialKey, ksn, usage, type);
  }

  /** Whether `ksn` is one this device has handed out: its initial key ID and a counter already used. */
  issued(ksn: Buffer): boolean {
    if (ksn.length !== KSN_BYTES || !ksn.subarray(0, INITIAL_KEY_ID_BYTES).equals(this.initialKeyId)) return false;
    const counter = ksn.readUInt32BE(INITIAL_KEY_ID_BYTES);
    return isValidCounter(counter) && counter <= this.counter;
  }
}
