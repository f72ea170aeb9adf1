import { createCipheriv, createDecipheriv } from 'node:crypto';

/** The simulated reader's PIN key (two-key triple DES, 16 bytes), shared with the simulated host only. */
export const SIM_PIN_KEY = Buffer.from('73696d2d70696e2d6b65792d33646573', 'hex');
// Two-key TDES is K1 K2 K1.
const KEY = Buffer.concat([SIM_PIN_KEY, SIM_PIN_KEY.subarray(0, 8)]);

/** ISO 9564 format 0: PIN field XOR the 12 rightmost PAN digits without the check digit. */
export function clearPinBlock(pin: string, pan: string): Buffer {
  if (!/^\d{4,12}$/.test(pin)) throw new RangeError('PIN must be 4-12 digits');
  const pinField = Buffer.from(`0${pin.length.toString(16)}${pin}`.padEnd(16, 'F'), 'hex');
  const panField = Buffer.from(`0000${pan.slice(-13, -1)}`, 'hex');
  return Buffer.from(pinField.map((b, i) => b ^ panField[i]!));
}

/** The 8-byte encrypted PIN block a READ-then-PIN sends to the terminal. */
export function encryptPinBlock(pin: string, pan: string): Buffer {
  const cipher = createCipheriv('des-ede3', KEY, null);
  cipher.setAutoPadding(false);
  return Buffer.concat([cipher.update(clearPinBlock(pin, pan)), cipher.final()]);
}

/** What the simulated host would do: recover the PIN from the block and the PAN. */
export function decryptPinBlock(block: Buffer, pan: string): string {
  const decipher = createDecipheriv('des-ede3', KEY, null);
  decipher.setAutoPadding(false);
  const clear = Buffer.concat([decipher.update(block), decipher.final()]);
  const panField = Buffer.from(`0000${pan.slice(-13, -1)}`, 'hex');
  const hex = Buffer.from(clear.map((b, i) => b ^ panField[i]!)).toString('hex');
  const length = parseInt(hex[1] ?? '0', 16);
  return hex.slice(2, 2 + length);
}
