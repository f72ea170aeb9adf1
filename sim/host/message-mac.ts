import { TEST_BDK } from '../crypto/test-keys.js';
import { hostMac, MAC_BYTES, type MacDirection } from '../crypto/message-mac.js';
import { encode, type WireMessage } from './codec.js';

/**
 * MACs on host messages (docs/protocols/host-iso8583.md section 4.8), the host's side: the
 * MAC is the last field of the message (64, or 128 when a secondary bitmap is present) and
 * covers every byte before it, MTI and bitmaps included; private-use field 62 carries the
 * KSN (field 53 is the PIN block's KSN, which the MAC covers as it is).
 */
/** The field of the MAC's KSN. */
export const MAC_KSN_FIELD = 62;

export type MacCheck = 'none' | 'valid' | 'invalid';

function macField(fields: ReadonlyMap<number, unknown>): 64 | 128 {
  return [...fields.keys()].some((n) => n > 64 && n !== 128) ? 128 : 64;
}

/**
 * The bytes a MAC covers: the message before the MAC, with field 62 as 12 zero bytes (the
 * reader picks the KSN as it computes the MAC; a changed KSN changes the key, so it is
 * protected all the same).
 */
export function macInput(msg: WireMessage): Buffer {
  const fields = new Map(msg.fields);
  if (fields.has(MAC_KSN_FIELD)) fields.set(MAC_KSN_FIELD, Buffer.alloc(12));
  const bytes = encode({ mti: msg.mti, fields });
  return bytes.subarray(0, bytes.length - MAC_BYTES);
}

function macOf(msg: WireMessage, ksn: Buffer, direction: MacDirection): Buffer {
  return hostMac(TEST_BDK, ksn, direction, macInput(msg));
}

export function checkRequestMac(msg: WireMessage): MacCheck {
  const field = msg.fields.has(128) ? 128 : msg.fields.has(64) ? 64 : undefined;
  if (field === undefined) return 'none';
  const ksn = msg.fields.get(MAC_KSN_FIELD);
  const mac = msg.fields.get(field);
  if (!Buffer.isBuffer(ksn) || !Buffer.isBuffer(mac)) return 'invalid';
  try {
    return macOf(msg, ksn, 'request').equals(mac) ? 'valid' : 'invalid';
  } catch {
    return 'invalid';
  }
}

/** The answer to a MACed request carries its KSN (62) and a MAC under the answer key of that KSN. */
export function macAnswer(request: WireMessage, answer: WireMessage): WireMessage {
  const ksn = request.fields.get(MAC_KSN_FIELD);
  if (!Buffer.isBuffer(ksn) || !(request.fields.has(64) || request.fields.has(128))) return answer;
  const fields = new Map(answer.fields);
  fields.delete(64);
  fields.delete(128);
  fields.set(MAC_KSN_FIELD, ksn);
  const field = macField(fields);
  fields.set(field, Buffer.alloc(MAC_BYTES));
  const placeholder = { mti: answer.mti, fields: new Map([...fields].sort(([a], [b]) => a - b)) };
  try {
    placeholder.fields.set(field, macOf(placeholder, ksn, 'answer'));
  } catch {
    return answer;
  }
  return placeholder;
}
