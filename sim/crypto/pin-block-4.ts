import { randomBytes } from 'node:crypto';
import { SimError } from '../errors.js';
import { aesDecryptBlock, aesEncryptBlock } from './aes-block.js';

/**
 * ISO 9564-1 format 4: the 16-byte PIN block for AES. The PIN field and the PAN field are
 * tied together by enciphering twice: E(K, E(K, PIN field) XOR PAN field). The random half
 * of the PIN field makes every block for the same PIN and card different.
 */
export class PinBlockError extends SimError {
  constructor(problem: string) {
    super('SIM_PIN_BLOCK', `PIN block ${problem}`);
  }
}

const FILL = 'a';

/** Control nibble 4, PIN length, the digits, fill nibbles A up to 8 bytes, then 8 random bytes. */
export function encodePinField(pin: string, random: Buffer): Buffer {
  if (!/^\d{4,12}$/.test(pin)) throw new PinBlockError('needs a PIN of 4 to 12 digits');
  if (random.length !== 8) throw new PinBlockError('needs 8 random bytes');
  const head = `4${pin.length.toString(16)}${pin}`.padEnd(16, FILL);
  return Buffer.concat([Buffer.from(head, 'hex'), random]);
}

/** Nibble M = PAN length - 12 (0 for 12 digits or fewer), the PAN left-padded with zeros to 12 digits, zero fill to 16 bytes. */
export function encodePanField(pan: string): Buffer {
  if (!/^\d{1,19}$/.test(pan)) throw new PinBlockError('needs a PAN of 1 to 19 digits');
  const m = Math.max(pan.length - 12, 0);
  return Buffer.from(`${m}${pan.padStart(12, '0')}`.padEnd(32, '0'), 'hex');
}

function xor(a: Buffer, b: Buffer): Buffer {
  return Buffer.from(a.map((byte, i) => byte ^ b[i]!));
}

export function encipherPinBlock4(key: Buffer, pin: string, pan: string, random: Buffer = randomBytes(8)): Buffer {
  const intermediate = xor(aesEncryptBlock(key, encodePinField(pin, random)), encodePanField(pan));
  return aesEncryptBlock(key, intermediate);
}

/** The PIN, after checking the control nibble, the length and the fill; never the PIN in an error. */
export function decipherPinBlock4(key: Buffer, block: Buffer, pan: string): string {
  if (block.length !== 16) throw new PinBlockError('is not 16 bytes');
  const pinField = aesDecryptBlock(key, xor(aesDecryptBlock(key, block), encodePanField(pan)));
  const hex = pinField.toString('hex');
  if (hex[0] !== '4') throw new PinBlockError('is not format 4');
  const length = parseInt(hex[1]!, 16);
  if (length < 4 || length > 12) throw new PinBlockError('holds a PIN length outside 4 to 12');
  const pin = hex.slice(2, 2 + length);
  if (!/^\d+$/.test(pin)) throw new PinBlockError('holds a non-digit PIN');
  if (hex.slice(2 + length, 16) !== FILL.repeat(14 - length)) throw new PinBlockError('has a wrong fill');
  return pin;
}
