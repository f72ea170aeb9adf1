import { createHmac } from 'node:crypto';
import { openCardBlob, sealCardBlob, type CardPlaintext, type EntryMode } from './crypto/card-blob.js';
import { DukptDevice } from './crypto/dukpt.js';
import { TEST_BDK, TEST_INITIAL_KEY_ID, TEST_READER_INITIAL_KEY } from './crypto/test-keys.js';

export type { CardPlaintext, EntryMode };

/**
 * The simulator's test card deck. These PANs exist ONLY here and in the simulated host:
 * the product never sees them in clear, and the leak scan searches every artefact for them.
 */
export interface TestCard {
  name: string;
  pan: string;
  expiry: string; // YYMM
  entryMode: EntryMode;
  /** The reader cannot read this card at all. */
  unreadable?: boolean;
  /** The simulated host treats this card as reported lost/stolen. */
  hotListed?: boolean;
  /** What the card asks for PIN verification (card-reader.md, READ answer `pinPolicy`). */
  pinPolicy: PinPolicy;
  /** The PIN the issuer (the simulated host) holds, and the one the cardholder types unless scripted. */
  pin: string;
  /** The chip answers the second GENERATE AC with an AAC even after the host approved. */
  declinesAfterOnline?: boolean;
  /** The chip computes its cryptograms under a key the issuer does not have (a counterfeit). */
  forgedCryptogram?: boolean;
}

export type PinPolicy = 'LIMIT' | 'LIMIT_BYPASS' | 'ALWAYS';

/** Every card of the deck has the PIN 1234 (documented in host-iso8583.md section 4.7). */
const PIN = '1234';

export const TEST_CARDS: readonly TestCard[] = [
  { name: 'visa-chip', pan: '4111111111111111', expiry: '2812', entryMode: 'CHIP', pinPolicy: 'LIMIT', pin: PIN },
  { name: 'mc-contactless', pan: '5555555555554444', expiry: '2911', entryMode: 'CTLS', pinPolicy: 'LIMIT_BYPASS', pin: PIN },
  { name: 'unionpay-swipe', pan: '6250941006528599', expiry: '2710', entryMode: 'SWIPE', pinPolicy: 'LIMIT', pin: PIN },
  { name: 'unionpay-debit', pan: '6222021000000013', expiry: '3006', entryMode: 'CHIP', pinPolicy: 'ALWAYS', pin: PIN },
  { name: 'visa-expired', pan: '4000056655665556', expiry: '2301', entryMode: 'CHIP', pinPolicy: 'LIMIT', pin: PIN },
  { name: 'mc-hotlisted', pan: '5105105105105100', expiry: '2812', entryMode: 'CHIP', hotListed: true, pinPolicy: 'LIMIT', pin: PIN },
  {
    name: 'visa-chip-declines',
    pan: '4242424242424242',
    expiry: '2812',
    entryMode: 'CHIP',
    declinesAfterOnline: true,
    pinPolicy: 'LIMIT',
    pin: PIN,
  },
  {
    name: 'visa-chip-forged',
    pan: '4000000000000002',
    expiry: '2812',
    entryMode: 'CHIP',
    forgedCryptogram: true,
    pinPolicy: 'LIMIT',
    pin: PIN,
  },
  { name: 'unreadable', pan: '4012888888881881', expiry: '2812', entryMode: 'CHIP', unreadable: true, pinPolicy: 'LIMIT', pin: PIN },
];

export const DEFAULT_CARD = 'visa-chip';

export function cardByName(name: string): TestCard {
  const card = TEST_CARDS.find((c) => c.name === name);
  if (!card) throw new Error(`no test card named ${name}; known: ${TEST_CARDS.map((c) => c.name).join(', ')}`);
  return card;
}

/** The simulated reader's PAN token key (test-only); the product never has it. */
const PAN_TOKEN_KEY = Buffer.from('706f732d636f6d70616e696f6e2d73696d2d70616e2d746f6b656e2d6b657921', 'hex');

export function panToken(pan: string): string {
  return createHmac('sha256', PAN_TOKEN_KEY).update(pan).digest('hex');
}

export function maskPan(pan: string): string {
  return pan.slice(0, 6) + '*'.repeat(pan.length - 10) + pan.slice(-4);
}

/**
 * A reader of the test deck for tests that need a blob without a simulated reader (host and
 * bench tests): its own DUKPT counter, the same test keys as ReaderSim.
 */
const deckReader = new DukptDevice(TEST_READER_INITIAL_KEY, TEST_INITIAL_KEY_ID);

/** A blob in the layout of docs/protocols/card-reader.md section 7, under the next KSN of the deck's reader. */
export function encryptCardData(data: CardPlaintext): Buffer {
  return sealCardBlob(deckReader, data);
}

/** What the simulated host does with field 48: derive the data key from the test BDK and the blob's KSN. */
export function decryptCardData(blob: Buffer): CardPlaintext {
  return openCardBlob(TEST_BDK, blob).card;
}

export function luhnValid(pan: string): boolean {
  let sum = 0;
  for (let i = 0; i < pan.length; i++) {
    let d = Number(pan[pan.length - 1 - i]);
    if (i % 2 === 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return sum % 10 === 0;
}
