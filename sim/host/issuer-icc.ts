import {
  applicationCryptogram,
  cardMasterKey,
  CID,
  issuerAuthenticationData,
  sessionKey,
  TEST_ISSUER_MASTER_KEY,
} from '../emv/cryptogram.js';
import { decodeTlv, encodeTlv, type SimTlv } from '../emv/tlv.js';

/**
 * The simulated issuer's chip checks (docs/protocols/host-iso8583.md section 4.9): it
 * recomputes the card's cryptogram from the ICC data of field 55 with the documented
 * test algorithm and, for a verified ARQC, returns issuer authentication data (91) and
 * any queued issuer scripts (71, 72) in the 0210's field 55.
 */
export type CryptogramCheck = 'verified' | 'failed';

export interface IccVerdict {
  check: CryptogramCheck;
  /** The cryptogram the card sent: ARQC (0x80) in a 0200, TC (0x40) in an advice. */
  cid: number;
  sk?: Buffer;
  ac?: Buffer;
}

function values(items: readonly SimTlv[]): Record<string, Buffer> {
  return Object.fromEntries(items.map((t) => [t.tag, t.value]));
}

/** Tags that would put card data in clear on the wire: PAN, track data, cardholder name. */
const CARD_DATA_TAGS = new Set(['5A', '57', '56', '9F1F', '9F20', '9F6B', '5F20']);

/** Field 55 carrying card data, or not readable as BER-TLV at all: a format error (30). */
export function unacceptableIcc(field55: Buffer): boolean {
  try {
    return decodeTlv(field55).some((t) => CARD_DATA_TAGS.has(t.tag));
  } catch {
    return true;
  }
}

/** An ARQC (0200) is computed without an ARC; a TC of an offline approval with the ARC `Y3`. */
export function checkCryptogram(pan: string, field55: Buffer, issuerKey: Buffer = TEST_ISSUER_MASTER_KEY): IccVerdict {
  let v: Record<string, Buffer>;
  try {
    v = values(decodeTlv(field55));
  } catch {
    return { check: 'failed', cid: -1 };
  }
  const ac = v['9F26'];
  const cid = v['9F27']?.[0] ?? -1;
  const atc = v['9F36'];
  if (!ac || ac.length !== 8 || !atc || atc.length !== 2) return { check: 'failed', cid };
  const sk = sessionKey(cardMasterKey(pan, issuerKey), atc.readUInt16BE(0));
  const expected = applicationCryptogram(sk, v, cid, cid === CID.TC ? 'Y3' : undefined);
  return { check: expected.equals(ac) ? 'verified' : 'failed', cid, sk, ac };
}

/** Field 55 of the 0210: 91 (ARPC and the response code), then the scripts, in the order queued. */
export function issuerField55(verdict: IccVerdict, arc: string, scripts: readonly Buffer[]): Buffer | undefined {
  if (verdict.check !== 'verified' || !verdict.sk || !verdict.ac || verdict.cid !== CID.ARQC) return undefined;
  return Buffer.concat([encodeTlv([{ tag: '91', value: issuerAuthenticationData(verdict.sk, verdict.ac, arc) }]), ...scripts]);
}
