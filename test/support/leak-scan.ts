import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { TEST_CARDS } from '../../sim/cards.js';
import { workingKeyFromBdk } from '../../sim/crypto/dukpt.js';
import { TEST_BDK, TEST_INITIAL_KEY_ID, TEST_READER_INITIAL_KEY } from '../../sim/crypto/test-keys.js';
import { cardMasterKey, TEST_ISSUER_MASTER_KEY } from '../../sim/emv/cryptogram.js';

/** Something that must never appear in an artefact, as exact bytes. */
export interface Needle {
  label: string;
  bytes: Buffer;
}

/** Where a needle or a card-data pattern was found. */
export interface Leak {
  artefact: string;
  label: string;
  offset: number;
}

/** An artefact to scan: a file or folder on disk, or bytes captured in memory (receipts, socket output). */
export type Artefact = { path: string } | { name: string; bytes: Buffer | string };

/** An enciphered PIN block and its KSN as the simulated reader sent them (`ReaderSim.pinBlocksSent`). */
export interface SentPinBlock {
  block: Buffer;
  ksn: Buffer;
}

/**
 * Every simulator test PAN in the encodings card data travels in: ASCII digits, UTF-16
 * (some loggers), packed BCD (ISO 8583 field 2 and EMV tag 5A), and each card's track-2
 * equivalent (`PAN=YYMM` / `PAN D YYMM`) and track-1 (`%B PAN^`) forms; and any PIN given,
 * as digits next to a PIN-ish key and as an ISO 9564 format-0 and format-4 PIN field; every
 * PIN block the reader sent and the KSN it travelled with, raw, in hex and in base64; and
 * the simulator's keys (keyNeedles), MAC and chip keys included.
 */
export function cardNeedles(pins: readonly string[] = [], pinBlocks: readonly SentPinBlock[] = []): Needle[] {
  const needles: Needle[] = [];
  for (const card of TEST_CARDS) {
    const { pan, expiry } = card;
    needles.push({ label: `PAN ${card.name}`, bytes: Buffer.from(pan, 'ascii') });
    needles.push({ label: `PAN ${card.name} (UTF-16)`, bytes: Buffer.from(pan, 'utf16le') });
    needles.push({ label: `PAN ${card.name} (BCD)`, bytes: Buffer.from(pan.length % 2 ? `${pan}F` : pan, 'hex') });
    needles.push({ label: `track 2 ${card.name}`, bytes: Buffer.from(`${pan}=${expiry}`, 'ascii') });
    needles.push({ label: `track 2 ${card.name} (BCD)`, bytes: Buffer.from(`${pan}D${expiry}`, 'hex') });
    needles.push({ label: `track 1 ${card.name}`, bytes: Buffer.from(`B${pan}^`, 'ascii') });
  }
  for (const pin of pins) {
    needles.push({
      label: 'PIN field (ISO 9564 format 0)',
      bytes: Buffer.from(`0${pin.length.toString(16)}${pin}`.padEnd(16, 'F'), 'hex'),
    });
    needles.push({
      label: 'PIN field (ISO 9564 format 4)',
      bytes: Buffer.from(`4${pin.length.toString(16)}${pin}`.padEnd(16, 'A'), 'hex'),
    });
    for (const key of ['pin', 'PIN', 'Pin']) {
      for (const form of [`"${key}":"${pin}"`, `"${key}": "${pin}"`, `${key}=${pin}`, `${key}: ${pin}`, `"${key}":${pin}`]) {
        needles.push({ label: `PIN next to "${key}"`, bytes: Buffer.from(form, 'ascii') });
      }
    }
  }
  const sent = pinBlocks.flatMap(({ block, ksn }, i): [string, Buffer][] => [
    [`PIN block ${i + 1}`, block],
    [`PIN block ${i + 1} KSN`, ksn],
  ]);
  return [...needles, ...encodings(sent), ...keyNeedles()];
}

/** Each value raw, in hex (both cases) and in base64. */
function encodings(values: readonly [string, Buffer][]): Needle[] {
  return values.flatMap(([label, key]) => [
    { label, bytes: key },
    { label: `${label} (hex)`, bytes: Buffer.from(key.toString('hex'), 'ascii') },
    { label: `${label} (HEX)`, bytes: Buffer.from(key.toString('hex').toUpperCase(), 'ascii') },
    { label: `${label} (base64)`, bytes: Buffer.from(key.toString('base64'), 'ascii') },
  ]);
}

/** Transactions per simulated reader whose working keys are searched for; a run uses fewer. */
const KEYED_TRANSACTIONS = 32;

/**
 * The test-only BDK, the reader's initial key, the data, PIN and MAC working keys of the
 * reader's first transactions, the issuer's chip master key and each card's chip key, raw,
 * in hex and in base64: no key may reach an artefact (the MAC keys stay in the reader, the
 * chip keys in the card).
 */
function keyNeedles(): Needle[] {
  const keys: [string, Buffer][] = [
    ['BDK', TEST_BDK],
    ['reader initial key', TEST_READER_INITIAL_KEY],
    ['issuer chip master key', TEST_ISSUER_MASTER_KEY],
    ...TEST_CARDS.map((c): [string, Buffer] => [`chip key ${c.name}`, cardMasterKey(c.pan)]),
  ];
  for (let counter = 1; counter <= KEYED_TRANSACTIONS; counter++) {
    const ksn = Buffer.alloc(12);
    TEST_INITIAL_KEY_ID.copy(ksn);
    ksn.writeUInt32BE(counter, 8);
    keys.push([`data key ${counter}`, workingKeyFromBdk(TEST_BDK, ksn, 'dataEncrypt')]);
    keys.push([`PIN key ${counter}`, workingKeyFromBdk(TEST_BDK, ksn, 'pinEncryption')]);
    keys.push([`MAC key ${counter}`, workingKeyFromBdk(TEST_BDK, ksn, 'macGeneration')]);
    keys.push([`answer MAC key ${counter}`, workingKeyFromBdk(TEST_BDK, ksn, 'macVerification')]);
  }
  return encodings(keys);
}

/** Luhn check, to tell a card number from any other long digit run. */
function luhn(digits: string): boolean {
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = Number(digits[digits.length - 1 - i]);
    if (i % 2 === 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return sum % 10 === 0;
}

/**
 * Patterns of card data whatever the card: a Luhn-valid 15-19 digit run starting with a
 * card-network digit (3-6) standing alone (not inside a longer run), track-2 data
 * (`;PAN=YYMM`) and track-1 data (`%BPAN^NAME^`).
 */
const PATTERNS: { label: string; re: RegExp; check?: (m: RegExpExecArray) => boolean }[] = [
  { label: 'card-number-like digits', re: /(?<![0-9])[3-6][0-9]{14,18}(?![0-9])/g, check: (m) => luhn(m[0]) },
  { label: 'track-2-like data', re: /;?[0-9]{12,19}=[0-9]{4}/g },
  { label: 'track-1-like data', re: /%?B[0-9]{12,19}\^[^^]{2,26}\^/g },
];

function scanBytes(artefact: string, bytes: Buffer, needles: readonly Needle[], leaks: Leak[]): void {
  for (const n of needles) {
    for (let at = bytes.indexOf(n.bytes); at >= 0; at = bytes.indexOf(n.bytes, at + 1))
      leaks.push({ artefact, label: n.label, offset: at });
  }
  const text = bytes.toString('latin1');
  for (const p of PATTERNS) {
    p.re.lastIndex = 0;
    for (let m = p.re.exec(text); m; m = p.re.exec(text)) {
      if (!p.check || p.check(m)) leaks.push({ artefact, label: p.label, offset: m.index });
    }
  }
}

function files(path: string): string[] {
  const st = statSync(path);
  if (!st.isDirectory()) return st.isFile() ? [path] : [];
  return readdirSync(path).flatMap((name) => files(join(path, name)));
}

/** Scans every artefact (folders recursively, every file whole, binary included) and lists every hit. */
export function scanForCardData(
  artefacts: readonly Artefact[],
  needles: readonly Needle[] = cardNeedles(),
): { scanned: string[]; leaks: Leak[] } {
  const leaks: Leak[] = [];
  const scanned: string[] = [];
  for (const a of artefacts) {
    if ('path' in a) {
      for (const file of files(a.path)) {
        scanned.push(file);
        scanBytes(file, readFileSync(file), needles, leaks);
      }
    } else {
      scanned.push(a.name);
      scanBytes(a.name, Buffer.isBuffer(a.bytes) ? a.bytes : Buffer.from(a.bytes, 'utf8'), needles, leaks);
    }
  }
  return { scanned, leaks };
}
