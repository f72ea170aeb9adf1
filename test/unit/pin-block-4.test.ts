import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { aesEncryptBlock } from '../../sim/crypto/aes-block.js';
import { decodeKsn, DukptDevice, workingKeyFromBdk } from '../../sim/crypto/dukpt.js';
import { decipherPinBlock4, encipherPinBlock4, encodePanField, encodePinField, PinBlockError } from '../../sim/crypto/pin-block-4.js';
import { TEST_INITIAL_KEY_ID, TEST_READER_INITIAL_KEY } from '../../sim/crypto/test-keys.js';
import { parseFrame } from '../../sim/reader/frame.js';

const h = (hex: string): Buffer => Buffer.from(hex, 'hex');
const hex = (b: Buffer): string => b.toString('hex').toUpperCase();

/*
 * Published ISO 9564-1 format 4 vectors, data only: the ep2 (eft/pos 2000) Security
 * Specification 8.0.0, section 8.4 "PIN Encryption" vector, and the deterministic vectors
 * of knovichikhin/psec tests/test_pinblock.py (fixed random half FF..FF).
 */
describe('ISO 9564 format 4 PIN block against published vectors', () => {
  it('encodes the PIN field: control 4, length, digits, fill A, then the random half', () => {
    expect(hex(encodePinField('1234', h('548ED7FD65495950')))).toBe('441234AAAAAAAAAA548ED7FD65495950');
  });

  it('encodes the PAN field: length - 12, the digits, zero fill', () => {
    expect(hex(encodePanField('112233445566778899'))).toBe('61122334455667788990000000000000');
  });

  it('enciphers PIN 1234 for PAN 1234567890123456789 under 00112233445566778899AABBCCDDEEFF', () => {
    expect(hex(encipherPinBlock4(h('00112233445566778899AABBCCDDEEFF'), '1234', '1234567890123456789', h('FFFFFFFFFFFFFFFF')))).toBe(
      '28B41FDDD29B743E93124BD8E32D921E',
    );
  });

  it('deciphers the ep2 vector to PIN 1234', () => {
    expect(decipherPinBlock4(h('C1D0F8FB4958670DBA40AB1F3752EF0D'), h('CC17F65586BFD0953010226C4FC5B3CA'), '432198765432109870')).toBe(
      '1234',
    );
  });

  it('deciphers a block made for a PAN shorter than 12 digits', () => {
    expect(decipherPinBlock4(h('00112233445566778899AABBCCDDEEFF'), h('39B69B1B91FE05D48F7EF0D68EB2CBD6'), '1')).toBe('123456');
  });

  it('round-trips every PIN length, and two blocks of the same PIN differ', () => {
    const key = h('C1D0F8FB4958670DBA40AB1F3752EF0D');
    for (const pin of ['1234', '98765', '000000', '123456789012']) {
      expect(decipherPinBlock4(key, encipherPinBlock4(key, pin, '4111111111111111'), '4111111111111111')).toBe(pin);
    }
    expect(encipherPinBlock4(key, '1234', '4111111111111111').equals(encipherPinBlock4(key, '1234', '4111111111111111'))).toBe(false);
  });

  it('a block deciphered with the wrong PAN is refused, and the error does not hold the PIN', () => {
    const key = h('C1D0F8FB4958670DBA40AB1F3752EF0D');
    const block = encipherPinBlock4(key, '246813', '4111111111111111', Buffer.from('0011223344556677', 'hex'));
    let error: unknown;
    try {
      decipherPinBlock4(key, block, '5555555555554444');
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(PinBlockError);
    expect(JSON.stringify({ ...(error as PinBlockError), message: (error as PinBlockError).message })).not.toContain('246813');
  });
});

const READER_DOC = readFileSync(join(import.meta.dirname, '..', '..', 'docs', 'protocols', 'card-reader.md'), 'utf8');

/** The worked example of card-reader.md section 7.2, label -> value. */
function documentedExample(): (label: string) => string {
  const block = /<!-- pin-block-example -->\n```\n([\s\S]*?)```/.exec(READER_DOC)?.[1];
  if (block === undefined) throw new Error('no pin-block-example block');
  const values = new Map(
    block
      .trim()
      .split('\n')
      .map((line) => /^(.+?) {2,}(.+)$/.exec(line)!.slice(1, 3) as [string, string]),
  );
  return (label) => {
    const value = values.get(label);
    if (value === undefined) throw new Error(`example has no ${label}`);
    return value;
  };
}

describe('the PIN block as card-reader.md section 7.2 specifies it, with the test-only keys', () => {
  const get = documentedExample();
  const ksn = h(get('KSN'));
  const [pin, pan] = get('PIN, PAN').split(', ') as [string, string];

  it('a reader holding only its initial key reproduces every step of the worked example', () => {
    const reader = new DukptDevice(TEST_READER_INITIAL_KEY, TEST_INITIAL_KEY_ID, decodeKsn(ksn).counter - 1);
    expect(hex(reader.nextKsn())).toBe(get('KSN'));
    const key = reader.workingKey(ksn, 'pinEncryption');
    expect(hex(key)).toBe(get('PIN key (usage 1000)'));
    const pinField = encodePinField(pin, h(get('random half')));
    expect(hex(pinField)).toBe(get('PIN field'));
    expect(hex(encodePanField(pan))).toBe(get('PAN field'));
    expect(hex(aesEncryptBlock(key, pinField))).toBe(get('AES(key, PIN field)'));
    expect(hex(encipherPinBlock4(key, pin, pan, h(get('random half'))))).toBe(get('PIN block'));
    const block = h(get('PIN block'));
    expect(get('PIN answer fields')).toBe(`${block.toString('base64')},${ksn.toString('base64')}`);
  });

  it('a host holding only the BDK recovers the PIN, and the PIN example of section 6 is the same answer', () => {
    expect(decipherPinBlock4(workingKeyFromBdk(h(get('BDK (TEST ONLY)')), ksn, 'pinEncryption'), h(get('PIN block')), pan)).toBe(pin);
    const answer = /^< (\$4,PIN,OK,[^B]\S+)$/m.exec(READER_DOC)?.[1];
    expect(parseFrame(answer!).fields.slice(1).join(',')).toBe(get('PIN answer fields'));
  });
});
