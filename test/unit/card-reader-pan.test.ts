import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { parseReadResult } from '../../drivers/card-reader/client.js';
import { ReaderProtocolError } from '../../drivers/card-reader/errors.js';
import type { CardReadResult } from '../../drivers/card-reader/types.js';
import { encryptCardData, maskPan, panToken, TEST_CARDS } from '../../sim/cards.js';

/**
 * Exactly the fields a READ hands to firmware-app. Adding a field to CardReadResult breaks
 * the build here (a missing key), so a new field is a reviewed decision, not an accident.
 */
const READ_RESULT_FIELDS: Record<keyof CardReadResult, 'masked' | 'last4' | 'expiry' | 'mode' | 'hash' | 'ciphertext' | 'policy'> = {
  maskedPan: 'masked',
  last4: 'last4',
  expiry: 'expiry',
  entryMode: 'mode',
  panToken: 'hash',
  encryptedBlob: 'ciphertext',
  pinPolicy: 'policy',
};

function answerFor(pan: string, expiry = '2812', mode = 'CHIP'): string[] {
  return [maskPan(pan), expiry, mode, panToken(pan), encryptCardData({ pan, expiry, entryMode: 'CHIP' }).toString('base64'), 'LIMIT'];
}

function refusal(fields: string[]): ReaderProtocolError {
  try {
    parseReadResult(fields);
  } catch (err) {
    expect(err).toBeInstanceOf(ReaderProtocolError);
    return err as ReaderProtocolError;
  }
  throw new Error('expected the READ answer to be refused');
}

/** Everything an error could leak through: message, details, stack, and its JSON form. */
const everywhere = (err: Error) =>
  [err.message, err.stack ?? '', JSON.stringify(err), JSON.stringify((err as ReaderProtocolError).details)].join('\n');

describe('no clear PAN crosses into firmware-app', () => {
  it.each(TEST_CARDS.map((c) => [c.name, c.pan] as const))(
    'a READ of %s carries only masked, hashed and encrypted card data',
    (_name, pan) => {
      const result = parseReadResult(answerFor(pan));
      expect(Object.keys(result).sort()).toEqual(Object.keys(READ_RESULT_FIELDS).sort());
      expect(result.maskedPan).toBe(`${pan.slice(0, 6)}${'*'.repeat(pan.length - 10)}${pan.slice(-4)}`);
      expect(result.last4).toBe(pan.slice(-4));
      for (const value of Object.values(result)) {
        const text = Buffer.isBuffer(value) ? value.toString('latin1') : String(value);
        expect(text).not.toContain(pan);
        expect(text).not.toMatch(/\d{11,}/);
      }
    },
  );

  it('refuses a clear PAN sent in the masked field, with a typed error that does not echo it', () => {
    for (const { pan } of TEST_CARDS) {
      const fields = answerFor(pan);
      fields[0] = pan;
      const err = refusal(fields);
      expect(err.code).toBe('READER_PROTOCOL');
      expect(everywhere(err)).not.toContain(pan);
      expect(everywhere(err)).not.toContain(pan.slice(6, -4));
    }
  });

  it('refuses any masked field that shows more than BIN6 + last four, whatever its digits', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^\d{13,19}$/), fc.integer({ min: 0, max: 8 }), (pan, hidden) => {
        // Hide fewer than the middle digits: 7 or more digits of the middle stay in clear.
        const middle = pan.slice(6, -4);
        const shown =
          pan.slice(0, 6) +
          '*'.repeat(Math.min(hidden, Math.max(0, middle.length - 1))) +
          middle.slice(Math.min(hidden, Math.max(0, middle.length - 1))) +
          pan.slice(-4);
        const fields = answerFor('4111111111111111');
        fields[0] = shown;
        const err = refusal(fields);
        expect(everywhere(err)).not.toContain(shown);
      }),
      { numRuns: 2000 },
    );
  });

  it('refuses the other fields when they break their shape, without echoing them', () => {
    const pan = '4111111111111111';
    const cases: [number, string][] = [
      [1, pan],
      [2, pan],
      [3, pan],
      [4, pan],
      [4, ''],
      [1, '2813'],
    ];
    for (const [i, value] of cases) {
      const fields = answerFor(pan);
      fields[i] = value;
      const err = refusal(fields);
      if (value) expect(everywhere(err)).not.toContain(value);
    }
    expect(() => parseReadResult([...answerFor(pan), pan])).toThrow(ReaderProtocolError);
  });
});
