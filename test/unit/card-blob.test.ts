import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decryptCardData, encryptCardData } from '../../sim/cards.js';
import { CardBlobError, openCardBlob, sealCardBlob } from '../../sim/crypto/card-blob.js';
import { decodeKsn, deriveInitialKey, DukptDevice, workingKeyFromBdk } from '../../sim/crypto/dukpt.js';
import { TEST_BDK, TEST_INITIAL_KEY_ID, TEST_READER_INITIAL_KEY } from '../../sim/crypto/test-keys.js';
import { parseFrame } from '../../sim/reader/frame.js';

const DOCS = join(import.meta.dirname, '..', '..', 'docs', 'protocols');
const READER_DOC = readFileSync(join(DOCS, 'card-reader.md'), 'utf8');
const HOST_DOC = readFileSync(join(DOCS, 'host-iso8583.md'), 'utf8');

function exampleBlock(doc: string): string {
  const block = /<!-- card-blob-example -->\n```\n([\s\S]*?)```/.exec(doc)?.[1];
  if (block === undefined) throw new Error('no card-blob-example block');
  return block;
}

/** The worked example as label -> value: a label ends at the first run of two spaces. */
function example(doc: string): Map<string, string> {
  return new Map(
    exampleBlock(doc)
      .trim()
      .split('\n')
      .map((line) => {
        const m = /^(.+?) {2,}(.+)$/.exec(line);
        if (!m) throw new Error('malformed example line');
        return [m[1]!, m[2]!] as const;
      }),
  );
}

const h = (hex: string): Buffer => Buffer.from(hex, 'hex');

describe('the card-data blob as the protocol documents specify it', () => {
  const ex = example(READER_DOC);
  const get = (label: string): string => {
    const value = ex.get(label);
    if (value === undefined) throw new Error(`example has no "${label}"`);
    return value;
  };

  it('both documents show the same worked example', () => {
    expect(exampleBlock(HOST_DOC)).toBe(exampleBlock(READER_DOC));
  });

  it('the documented test-only keys are the ones the simulator uses', () => {
    expect(TEST_BDK.equals(h(get('BDK (TEST ONLY)')))).toBe(true);
    expect(TEST_INITIAL_KEY_ID.equals(h(get('initial key ID')))).toBe(true);
    expect(TEST_READER_INITIAL_KEY.equals(h(get('initial key')))).toBe(true);
  });

  it('the worked example is reproduced byte for byte from the documented inputs', () => {
    const initialKey = deriveInitialKey(h(get('BDK (TEST ONLY)')), h(get('initial key ID')));
    expect(initialKey.toString('hex').toUpperCase()).toBe(get('initial key'));
    const ksn = h(get('KSN'));
    expect(
      workingKeyFromBdk(h(get('BDK (TEST ONLY)')), ksn, 'dataEncrypt')
        .toString('hex')
        .toUpperCase(),
    ).toBe(get('data key (usage 3000)'));
    const device = new DukptDevice(initialKey, h(get('initial key ID')), decodeKsn(ksn).counter - 1);
    const blob = sealCardBlob(device, JSON.parse(get('plaintext')) as Parameters<typeof sealCardBlob>[1], h(get('IV')));
    expect(blob.toString('hex').toUpperCase()).toBe(get('blob'));
    expect(blob.subarray(0, 13).toString('hex').toUpperCase()).toBe(get('AAD (version, KSN)'));
    expect(blob.subarray(25, -16).toString('hex').toUpperCase()).toBe(get('ciphertext'));
    expect(blob.subarray(-16).toString('hex').toUpperCase()).toBe(get('tag'));
    expect(blob.toString('base64')).toBe(get('blob, base64'));
  });

  it('a host opens the documented blob with the BDK alone', () => {
    const opened = openCardBlob(h(get('BDK (TEST ONLY)')), Buffer.from(get('blob, base64'), 'base64'));
    expect(JSON.stringify(opened.card)).toBe(get('plaintext'));
    expect(opened.ksn.toString('hex').toUpperCase()).toBe(get('KSN'));
  });

  it('the READ example of section 6 carries a blob that opens to the card behind its masked PAN', () => {
    const line = /^< (\$3,READ,OK,\S+)$/m.exec(READER_DOC)?.[1];
    const [, maskedPan, expiry, entryMode, , blob] = parseFrame(line!).fields;
    const { card } = openCardBlob(TEST_BDK, Buffer.from(blob!, 'base64'));
    expect(card.pan.slice(0, 6) + '*'.repeat(card.pan.length - 10) + card.pan.slice(-4)).toBe(maskedPan);
    expect([card.expiry, card.entryMode]).toEqual([expiry, entryMode]);
  });
});

describe('opening a blob refuses anything but what a reader sealed', () => {
  const card = { pan: '5555555555554444', expiry: '2911', entryMode: 'CTLS' } as const;

  it('every blob of a reader has the next KSN, and the host reads each back', () => {
    const first = encryptCardData(card);
    const second = encryptCardData(card);
    expect(decodeKsn(second.subarray(1, 13)).counter).toBeGreaterThan(decodeKsn(first.subarray(1, 13)).counter);
    expect(decryptCardData(first)).toEqual(card);
    expect(decryptCardData(second)).toEqual(card);
  });

  it('any single changed byte (version, KSN, IV, ciphertext or tag) makes the blob unreadable', () => {
    const blob = encryptCardData(card);
    for (let i = 0; i < blob.length; i++) {
      const damaged = Buffer.from(blob);
      damaged[i]! ^= 0x01;
      expect(() => decryptCardData(damaged), `byte ${i}`).toThrow(CardBlobError);
    }
  });

  it('a blob under another BDK, or truncated, is refused without showing the card', () => {
    const blob = encryptCardData(card);
    for (const attempt of [() => openCardBlob(Buffer.alloc(16, 1), blob), () => openCardBlob(TEST_BDK, blob.subarray(0, 40))]) {
      let error: unknown;
      try {
        attempt();
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(CardBlobError);
      expect(JSON.stringify({ ...(error as CardBlobError), message: (error as Error).message })).not.toContain(card.pan);
    }
  });

  it('whatever bytes arrive in field 48, the host gets a card or a CardBlobError, nothing else', () => {
    const sealed = encryptCardData(card);
    const blobs = fc.oneof(
      fc.uint8Array({ maxLength: 120 }).map((b) => Buffer.from(b)),
      fc.record({ at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }), cut: fc.nat() }).map(({ at, byte, cut }) => {
        const b = Buffer.from(sealed);
        b[at % b.length] = byte;
        return b.subarray(0, Math.max(1, b.length - (cut % 8)));
      }),
    );
    fc.assert(
      fc.property(blobs, (blob) => {
        try {
          expect(decryptCardData(blob)).toEqual(card);
        } catch (e) {
          expect(e).toBeInstanceOf(CardBlobError);
        }
      }),
      { numRuns: 500 },
    );
  });

  it('the reader refuses to seal card data the host could not read', () => {
    const device = new DukptDevice(TEST_READER_INITIAL_KEY, TEST_INITIAL_KEY_ID);
    expect(() => sealCardBlob(device, { ...card, pan: '4111' })).toThrow(CardBlobError);
    expect(() => sealCardBlob(device, { ...card, expiry: '2913' })).toThrow(CardBlobError);
  });
});
