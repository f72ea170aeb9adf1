import { createCipheriv, createDecipheriv } from 'node:crypto';
import { SimError } from '../errors.js';

function ecbName(key: Buffer): 'aes-128-ecb' | 'aes-192-ecb' | 'aes-256-ecb' {
  if (key.length === 16) return 'aes-128-ecb';
  if (key.length === 24) return 'aes-192-ecb';
  if (key.length === 32) return 'aes-256-ecb';
  throw new SimError('SIM_CRYPTO_KEY_LENGTH', 'an AES key is 16, 24 or 32 bytes', { length: key.length });
}

/** One AES block (16 bytes) enciphered under `key`: the primitive of DUKPT and of PIN block format 4. */
export function aesEncryptBlock(key: Buffer, block: Buffer): Buffer {
  const cipher = createCipheriv(ecbName(key), key, null).setAutoPadding(false);
  return Buffer.concat([cipher.update(block), cipher.final()]);
}

export function aesDecryptBlock(key: Buffer, block: Buffer): Buffer {
  const decipher = createDecipheriv(ecbName(key), key, null).setAutoPadding(false);
  return Buffer.concat([decipher.update(block), decipher.final()]);
}
