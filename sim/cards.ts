import { createCipheriv, createDecipheriv, createHmac, randomBytes } from 'node:crypto';

/**
 * The simulator's test card deck. These PANs exist ONLY here and in the simulated host:
 * the product never sees them in clear, and the leak scan searches every artefact for them.
 */
export type EntryMode = 'CHIP' | 'CTLS' | 'SWIPE' | 'MANUAL';

export interface TestCard {
  name: string;
  pan: string;
  expiry: string; // YYMM
  entryMode: EntryMode;
  /** The reader cannot read this card at all. */
  unreadable?: boolean;
  /** The simulated host treats this card as reported lost/stolen. */
  hotListed?: boolean;
  pinRequired?: boolean;
}

export const TEST_CARDS: readonly TestCard[] = [
  { name: 'visa-chip', pan: '4111111111111111', expiry: '2812', entryMode: 'CHIP' },
  { name: 'mc-contactless', pan: '5555555555554444', expiry: '2911', entryMode: 'CTLS' },
  { name: 'unionpay-swipe', pan: '6250941006528599', expiry: '2710', entryMode: 'SWIPE' },
  { name: 'visa-expired', pan: '4000056655665556', expiry: '2301', entryMode: 'CHIP' },
  { name: 'mc-hotlisted', pan: '5105105105105100', expiry: '2812', entryMode: 'CHIP', hotListed: true },
  { name: 'unreadable', pan: '4012888888881881', expiry: '2812', entryMode: 'CHIP', unreadable: true },
];

export const DEFAULT_CARD = 'visa-chip';

export function cardByName(name: string): TestCard {
  const card = TEST_CARDS.find((c) => c.name === name);
  if (!card) throw new Error(`no test card named ${name}; known: ${TEST_CARDS.map((c) => c.name).join(', ')}`);
  return card;
}

/** Test keys shared by the simulated reader and host (never by the product). */
export const SIM_KEYS = {
  cardData: Buffer.from('706f732d636f6d70616e696f6e2d73696d2d702d32652d746573742d6b657921', 'hex'),
  panToken: Buffer.from('706f732d636f6d70616e696f6e2d73696d2d70616e2d746f6b656e2d6b657921', 'hex'),
} as const;

export function panToken(pan: string): string {
  return createHmac('sha256', SIM_KEYS.panToken).update(pan).digest('hex');
}

export function maskPan(pan: string): string {
  return pan.slice(0, 6) + '*'.repeat(pan.length - 10) + pan.slice(-4);
}

export interface CardPlaintext {
  pan: string;
  expiry: string;
  entryMode: EntryMode;
}

/** Blob layout: 12-byte IV, 16-byte GCM tag, ciphertext of the JSON card data. */
export function encryptCardData(data: CardPlaintext): Buffer {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', SIM_KEYS.cardData, iv);
  const ct = Buffer.concat([cipher.update(JSON.stringify(data), 'utf8'), cipher.final()]);
  return Buffer.concat([iv, cipher.getAuthTag(), ct]);
}

export function decryptCardData(blob: Buffer): CardPlaintext {
  if (blob.length < 29) throw new Error('card data blob too short');
  const decipher = createDecipheriv('aes-256-gcm', SIM_KEYS.cardData, blob.subarray(0, 12));
  decipher.setAuthTag(blob.subarray(12, 28));
  const pt = Buffer.concat([decipher.update(blob.subarray(28)), decipher.final()]);
  return JSON.parse(pt.toString('utf8')) as CardPlaintext;
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
