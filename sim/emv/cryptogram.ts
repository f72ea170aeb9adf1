import { aesEncryptBlock } from '../crypto/aes-block.js';
import { aesCmac } from '../crypto/cmac.js';

/**
 * The TEST-ONLY application cryptogram algorithm of docs/protocols/card-reader.md section
 * 10.4, shared by the simulated card (which computes ARQC, TC and AAC) and the simulated
 * issuer (which verifies the ARQC and answers with an ARPC). It has the shape of EMV
 * common session keys with AES, not the exact derivation of any scheme: a real card and
 * issuer use their scheme's keys and methods.
 */
export const TEST_ISSUER_MASTER_KEY = Buffer.from('404142434445464748494A4B4C4D4E4F', 'hex');

/** Cryptogram information data (9F27): what kind of cryptogram the card produced. */
export const CID = { AAC: 0x00, TC: 0x40, ARQC: 0x80 } as const;

/** The tags whose values, in this order, feed a cryptogram (the card's CDOL, section 10.4). */
export const CRYPTOGRAM_TAGS = ['9F02', '5F2A', '9A', '9C', '9F37', '82', '9F36', '95', '9F1A', '9F33'] as const;

/** The card's key: AES of its last 16 PAN digits (BCD, left-padded with 0) and their complement. */
export function cardMasterKey(pan: string, issuerKey: Buffer = TEST_ISSUER_MASTER_KEY): Buffer {
  const y = Buffer.from(pan.slice(-16).padStart(16, '0'), 'hex');
  const block = Buffer.concat([y, Buffer.from(y.map((b) => b ^ 0xff))]);
  return aesEncryptBlock(issuerKey, block);
}

/** One session key per application transaction counter: AES of ATC || F0 || 13 zero bytes. */
export function sessionKey(masterKey: Buffer, atc: number): Buffer {
  const r = Buffer.alloc(16);
  r.writeUInt16BE(atc, 0);
  r[2] = 0xf0;
  return aesEncryptBlock(masterKey, r);
}

/**
 * The first 8 bytes of AES-CMAC, under the session key, of the values of CRYPTOGRAM_TAGS,
 * then (second cryptogram only) the two ASCII characters of the authorisation response
 * code, then the cryptogram information data being produced.
 */
export function applicationCryptogram(sk: Buffer, values: Readonly<Record<string, Buffer>>, cid: number, arc?: string): Buffer {
  const parts = CRYPTOGRAM_TAGS.map((t) => values[t] ?? Buffer.alloc(0));
  if (arc !== undefined) parts.push(Buffer.from(arc, 'latin1'));
  parts.push(Buffer.from([cid]));
  return aesCmac(sk, Buffer.concat(parts)).subarray(0, 8);
}

/** Issuer authentication data (tag 91): ARPC = CMAC(ARQC || ARC) cut to 8 bytes, then the ARC. */
export function issuerAuthenticationData(sk: Buffer, arqc: Buffer, arc: string): Buffer {
  const arcBytes = Buffer.from(arc, 'latin1');
  return Buffer.concat([aesCmac(sk, Buffer.concat([arqc, arcBytes])).subarray(0, 8), arcBytes]);
}
