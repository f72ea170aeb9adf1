import { aesCmac } from './cmac.js';
import { DukptDevice, workingKeyFromBdk } from './dukpt.js';

/**
 * The MAC of host messages (host-iso8583.md section 4.8): the first 8 bytes of AES-CMAC
 * under an AES DUKPT working key. The reader MACs a request with usage "MAC generation"
 * (2000) of a fresh KSN; the host answers with usage "MAC verification" (2001) of the same
 * KSN, which is the key the reader verifies with, so a request's MAC never passes as an
 * answer's.
 */
export const MAC_BYTES = 8;

export type MacDirection = 'request' | 'answer';

const USAGE = { request: 'macGeneration', answer: 'macVerification' } as const;

function mac(key: Buffer, data: Buffer): Buffer {
  return aesCmac(key, data).subarray(0, MAC_BYTES);
}

/** The reader's side: a MAC under its own key of `ksn`. */
export function deviceMac(device: DukptDevice, ksn: Buffer, direction: MacDirection, data: Buffer): Buffer {
  return mac(device.workingKey(ksn, USAGE[direction]), data);
}

/** The host's side: the same key from the BDK and the KSN of field 62. */
export function hostMac(bdk: Buffer, ksn: Buffer, direction: MacDirection, data: Buffer): Buffer {
  return mac(workingKeyFromBdk(bdk, ksn, USAGE[direction]), data);
}
