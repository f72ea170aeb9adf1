import { describe, expect, it } from 'vitest';
import {
  decodeKsn,
  derivationKeyFor,
  deriveInitialKey,
  DukptDevice,
  DukptError,
  isValidCounter,
  nextCounter,
  workingKeyFromBdk,
  workingKeyFromInitialKey,
  type KeyUsage,
} from '../../sim/crypto/dukpt.js';

const h = (hex: string): Buffer => Buffer.from(hex, 'hex');
const hex = (b: Buffer): string => b.toString('hex').toUpperCase();

/*
 * Test vectors of ANSI X9.24-3-2017, Annex B and its supplementary test vectors (BDK
 * FEDCBA9876543210F1F1F1F1F1F1F1F1, initial key ID 1234567890123456), data only, as
 * reproduced in openemv/dukpt test/dukpt_aes128_test.c and test/dukpt_aes_test.c (initial
 * keys, KSN sequence and intermediate derivation keys) and moov-io/dukpt
 * pkg/aes/aes_test.go (the same KSN sequence and keys); working keys per usage as listed in
 * the X9.24-3 supplementary vectors (AES-128 keys from the AES-128 BDK).
 */
const BDK128 = h('FEDCBA9876543210F1F1F1F1F1F1F1F1');
const BDK256 = h('FEDCBA9876543210F1F1F1F1F1F1F1F1FEDCBA9876543210F1F1F1F1F1F1F1F1');
const IKID = h('1234567890123456');
const IK128 = '1273671EA26AC29AFA4D1084127652A1';
const IK256 = 'CE9CE0C101D1138F97FB6CAD4DF045A7083D4EAE2D35A31789D01CCF0949550F';

/** Counter -> intermediate derivation key ("transaction key" in the vectors). */
const DERIVATION_KEYS: [number, string][] = [
  [0x00000001, '4F21B565BAD9835E112B6465635EAE44'],
  [0x00000002, '2F34D68DE10F68D38091A73B9E7C437C'],
  [0x00000003, '031504E530365CF81264238540518318'],
  [0x00000004, '0EEFC7ADA628BA68878DA9165A8A1887'],
  [0x00000005, 'C2A7AC328A5DA2D6002D62465BFC028B'],
  [0x00000006, 'D30F7D9351DA58448A2F5E92B4EE3B7D'],
  [0x00000007, 'A8253CEED9AC042C54F75D35C8352278'],
  [0x00000008, '718EE6CF0B27E53D5F7AF99C4D8146A2'],
  [0x0001fffe, 'E21E8C8D347F8561A2BE752DAA85A111'],
  [0x00020000, 'F7AE9025468A25D37B7249CFFED224C8'],
  [0x00020001, '692C8EA4013645135B36497131DF9D2C'],
  [0xfffe2000, '48E585B694EB0B18D5C35443E163C0BA'],
  [0xfffe4000, '396C2C7CA1EA701C03B86B7D41F0C562'],
  [0xfffe8000, '0387625F189B58AE03EF0E8CCA41105E'],
  [0xffff0000, 'F6BA59389BD14A9855BE9727E7C52E3C'],
];

/** Counter 1, every usage: AES-128 working keys. */
const COUNTER_1_KEYS: [KeyUsage, string][] = [
  ['pinEncryption', 'AF8CB133A78F8DC2D1359F18527593FB'],
  ['macGeneration', 'A2DC23DE6FDE0824A2BC321E08E4B8B7'],
  ['macVerification', 'DBB463945B286C07CD3AD82EE96FD9C9'],
  ['macBothWays', '85675439D18D7F1158BD8E3EAA3D502B'],
  ['dataEncrypt', 'A35C412EFD41FDB98B69797C02DCD08F'],
  ['dataDecrypt', '16292C6EA8F64C5420A0584BFBC577BE'],
  ['dataBothWays', 'A308E080DD15A1B741F1721BF67DE11C'],
  ['keyEncryption', '36A724B7BEFA5A25F5E7B5782A4554A2'],
];

/** PIN encryption keys further along the counter (AES-128), and counter 8's MAC and data keys. */
const PIN_KEYS: [number, string][] = [
  [0x00000002, 'D30BDC73EC9714B000BEC66BDB7B6D09'],
  [0x00000003, '7D69F01F3B45449F62C7816ECE723268'],
  [0x00000008, '4D9DF3FBEE3448FC3E676D04320A90F5'],
  [0xfffe4000, '6239A27F572DEDB17BCA1AC413EF9FE9'],
  [0xfffe8000, 'F10C1404137A80718FCCE8BD90FF9F67'],
  [0xffff0000, '27EFAC1D158632588F4AC69E45C247C4'],
];

/** AES-256 BDK: AES-256 derivation keys and PIN encryption keys. */
const AES256: [number, string, string][] = [
  [
    0x00000001,
    '54AC2B32B145EA4A554CB8BC44B17467063A799856B1CCC2A138D36E8DBF78B3',
    '8C1AB7BEE973829E30242E0BBBDD4946D540C98FC1B5BDCF94790001A23FD502',
  ],
  [
    0x00000002,
    '5DD5A0253842BBBE1D7C0DA27021412C6F1FAB53FB928DEAE56DA06090A9DE97',
    '3583D6CD02FC38822CC71A8D7678E04F4A8556335E6CC66863D3DADC5AEE2C62',
  ],
  [
    0xffff0000,
    '6D6DB7AAAE8B3EA90E57A39E4BBA71E173B21B446B30A78D64BFC6A8806C55EE',
    '88B82556AEF4A681E0687F443A4C4F305AF9203B114470DFC77C7F08BC43F9DA',
  ],
];

const ksn = (counter: number): Buffer => Buffer.concat([IKID, Buffer.from(counter.toString(16).padStart(8, '0'), 'hex')]);

describe('AES DUKPT (ANSI X9.24-3-2017) against the published test vectors', () => {
  it('derives the initial key from the BDK and the initial key ID', () => {
    expect(hex(deriveInitialKey(BDK128, IKID))).toBe(IK128);
    expect(hex(deriveInitialKey(BDK256, IKID))).toBe(IK256);
  });

  it.each(DERIVATION_KEYS)('derives the intermediate derivation key for counter %i', (counter, expected) => {
    expect(hex(derivationKeyFor(h(IK128), IKID, counter))).toBe(expected);
  });

  it.each(COUNTER_1_KEYS)('counter 1: %s key, from the reader initial key and from the BDK alike', (usage, expected) => {
    expect(hex(workingKeyFromInitialKey(h(IK128), ksn(1), usage))).toBe(expected);
    expect(hex(workingKeyFromBdk(BDK128, ksn(1), usage))).toBe(expected);
  });

  it.each(PIN_KEYS)('counter %i: PIN encryption key', (counter, expected) => {
    expect(hex(workingKeyFromBdk(BDK128, ksn(counter), 'pinEncryption'))).toBe(expected);
  });

  it('counter 8: MAC generation and data encryption keys', () => {
    expect(hex(workingKeyFromBdk(BDK128, ksn(8), 'macGeneration'))).toBe('6FD572E5D59E618875F193484F9178FB');
    expect(hex(workingKeyFromBdk(BDK128, ksn(8), 'dataEncrypt'))).toBe('650F34204ABD4E57764D61AC3D266FB1');
  });

  it.each(AES256)('AES-256 BDK, counter %i: derivation key and AES-256 PIN encryption key', (counter, derivation, pin) => {
    expect(hex(derivationKeyFor(h(IK256), IKID, counter))).toBe(derivation);
    expect(hex(workingKeyFromBdk(BDK256, ksn(counter), 'pinEncryption', 'AES256'))).toBe(pin);
  });
});

describe('AES DUKPT transaction counter and KSN', () => {
  it('a device walks the counters of the vectors, skipping those with more than 16 one-bits', () => {
    expect(nextCounter(0)).toBe(1);
    expect(nextCounter(0x1fffe)).toBe(0x20000);
    expect(nextCounter(0xfffe2000)).toBe(0xfffe4000);
    expect(nextCounter(0xfffe4000)).toBe(0xfffe8000);
    expect(nextCounter(0xfffe8000)).toBe(0xffff0000);
    expect(isValidCounter(0x1ffff)).toBe(false);
  });

  it('a device whose counters are used up refuses to go on', () => {
    expect(() => nextCounter(0xffff0000)).toThrow(DukptError);
  });

  it('a device hands out KSNs in order and its keys are the ones the host derives from the BDK', () => {
    const device = new DukptDevice(deriveInitialKey(BDK128, IKID), IKID);
    const first = device.nextKsn();
    const second = device.nextKsn();
    expect(hex(first)).toBe('123456789012345600000001');
    expect(hex(second)).toBe('123456789012345600000002');
    expect(hex(device.workingKey(second, 'pinEncryption'))).toBe('D30BDC73EC9714B000BEC66BDB7B6D09');
  });

  it('refuses a KSN of the wrong length or with a counter no device uses', () => {
    expect(() => decodeKsn(h('1234567890123456000001'))).toThrow(DukptError);
    expect(() => decodeKsn(ksn(0))).toThrow(DukptError);
    expect(() => decodeKsn(ksn(0x1ffff))).toThrow(DukptError);
  });
});
