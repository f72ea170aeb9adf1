import { aesEncryptBlock } from './aes-block.js';

/**
 * AES-CMAC (NIST SP 800-38B, RFC 4493): the MAC of the host messages and the base of the
 * test cryptograms. node:crypto has no CMAC, so it is built on the one-block primitive.
 */
const BLOCK = 16;
const RB = 0x87;

function shiftLeft(block: Buffer): Buffer {
  const out = Buffer.alloc(BLOCK);
  for (let i = 0; i < BLOCK; i++) out[i] = ((block[i]! << 1) | (i + 1 < BLOCK ? block[i + 1]! >> 7 : 0)) & 0xff;
  return out;
}

function subkey(block: Buffer): Buffer {
  const out = shiftLeft(block);
  if (block[0]! & 0x80) out[BLOCK - 1]! ^= RB;
  return out;
}

function xor(a: Buffer, b: Buffer): Buffer {
  const out = Buffer.alloc(BLOCK);
  for (let i = 0; i < BLOCK; i++) out[i] = a[i]! ^ b[i]!;
  return out;
}

/** The full 16-byte CMAC of `data` under the AES key `key`. */
export function aesCmac(key: Buffer, data: Buffer): Buffer {
  const k1 = subkey(aesEncryptBlock(key, Buffer.alloc(BLOCK)));
  const k2 = subkey(k1);
  const blocks = Math.max(1, Math.ceil(data.length / BLOCK));
  const complete = data.length > 0 && data.length % BLOCK === 0;
  let state: Buffer = Buffer.alloc(BLOCK);
  for (let i = 0; i < blocks - 1; i++) state = aesEncryptBlock(key, xor(state, data.subarray(i * BLOCK, (i + 1) * BLOCK)));
  const tail = data.subarray((blocks - 1) * BLOCK);
  const last = complete ? xor(tail, k1) : xor(Buffer.concat([tail, Buffer.from([0x80]), Buffer.alloc(BLOCK - tail.length - 1)]), k2);
  return aesEncryptBlock(key, xor(state, last));
}
