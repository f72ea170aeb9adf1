import { describe, expect, it } from 'vitest';
import { cardByName } from '../../sim/cards.js';
import { DukptDevice } from '../../sim/crypto/dukpt.js';
import { encipherPinBlock4 } from '../../sim/crypto/pin-block-4.js';
import { TEST_INITIAL_KEY_ID, TEST_READER_INITIAL_KEY } from '../../sim/crypto/test-keys.js';
import { IssuerPins, PIN_TRY_LIMIT } from '../../sim/host/pin-check.js';

/** The simulated host's PIN check (host-iso8583.md section 4.7), fed blocks made as a reader makes them. */
const reader = new DukptDevice(TEST_READER_INITIAL_KEY, TEST_INITIAL_KEY_ID);
function entered(pin: string, pan: string): [Buffer, Buffer] {
  const ksn = reader.nextKsn();
  return [encipherPinBlock4(reader.workingKey(ksn, 'pinEncryption'), pin, pan), ksn];
}

describe('the simulated issuer verifies PIN blocks', () => {
  const visa = cardByName('visa-chip').pan;

  it('the right PIN is 00; wrong ones are 55 until the limit, whose try is 75, and 75 stays even for the right PIN', () => {
    const pins = new IssuerPins();
    expect(pins.verify(visa, ...entered('1234', visa))).toBe('00');
    const answers = Array.from({ length: PIN_TRY_LIMIT }, () => pins.verify(visa, ...entered('1111', visa)));
    expect(answers).toEqual(['55', '55', '75']);
    expect(pins.verify(visa, ...entered('1234', visa))).toBe('75');
  });

  it('a right PIN clears the wrong tries before it', () => {
    const pins = new IssuerPins();
    pins.verify(visa, ...entered('1111', visa));
    pins.verify(visa, ...entered('1111', visa));
    expect(pins.verify(visa, ...entered('1234', visa))).toBe('00');
    expect(pins.verify(visa, ...entered('1111', visa))).toBe('55');
  });

  it('a block made for another card, or under another KSN than field 53 says, is a wrong PIN', () => {
    const pins = new IssuerPins();
    const mc = cardByName('mc-contactless').pan;
    expect(pins.verify(visa, ...entered('1234', mc))).toBe('55');
    const [block] = entered('1234', visa);
    const [, otherKsn] = entered('1234', visa);
    expect(pins.verify(visa, block, otherKsn)).toBe('55');
  });

  it('a block without its KSN (or the reverse) is 30; no PIN is no decision, except for a card that asks for one always (55)', () => {
    const pins = new IssuerPins();
    const [block, ksn] = entered('1234', visa);
    expect(pins.verify(visa, block, undefined)).toBe('30');
    expect(pins.verify(visa, undefined, ksn)).toBe('30');
    expect(pins.verify(visa, undefined, undefined)).toBeUndefined();
    expect(pins.verify(cardByName('unionpay-debit').pan, undefined, undefined)).toBe('55');
  });
});
