import type { CardReaderClient } from './client.js';
import { ReaderProtocolError, ReaderRequestError } from './errors.js';
import { parseTlv, TlvError, type TlvObject } from './tlv.js';

/**
 * The reader's chip and MAC commands (docs/protocols/card-reader.md section 10): the card's
 * ICC data and second cryptogram, and the MAC of host messages under keys that stay in the
 * reader. Every answer is checked before it is handed on; an error names the problem,
 * never a value.
 */
export interface IccData {
  /** The BER-TLV bytes as the reader sent them: what field 55 carries. */
  raw: Buffer;
  objects: TlvObject[];
}

export interface ChipCompletion {
  decision: 'TC' | 'AAC';
  data: IccData;
}

export interface MacResult {
  ksn: Buffer;
  mac: Buffer;
}

/** Card data that must never travel outside the reader's encrypted blob (section 10.3). */
const FORBIDDEN_TAGS = new Set(['5A', '57', '56', '9F1F', '9F20', '9F6B', '5F20', '5F34']);
/** Keeps a MACV frame within 1024 bytes (section 10.5). */
export const MAX_MAC_DATA_BYTES = 700;
const B64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const HEX = (n: number) => new RegExp(`^[0-9A-F]{${n}}$`);

function iccData(command: string, field: string | undefined): IccData {
  if (field === undefined || field === '' || !B64.test(field)) throw new ReaderProtocolError(command, 'ICC data is not base64');
  const raw = Buffer.from(field, 'base64');
  let objects: TlvObject[];
  try {
    objects = parseTlv(raw);
  } catch (err) {
    if (err instanceof TlvError) throw new ReaderProtocolError(command, `ICC data is not BER-TLV (${err.details.problem as string})`);
    throw err;
  }
  const forbidden = objects.find((o) => FORBIDDEN_TAGS.has(o.tag));
  if (forbidden) throw new ReaderProtocolError(command, `ICC data carries card data (tag ${forbidden.tag})`);
  return { raw, objects };
}

export class ReaderChip {
  constructor(private readonly client: Pick<CardReaderClient, 'chipCommand'>) {}

  /** First GENERATE AC: `date` YYMMDD (local), `type` the two-digit transaction type (`00` sale). */
  async icc(date: string, type: string): Promise<IccData> {
    if (!/^\d{6}$/.test(date) || !/^\d{2}$/.test(type)) throw new ReaderRequestError('ICC', 'date must be YYMMDD and type two digits');
    const [data] = await this.client.chipCommand('ICC', [date, type]);
    return iccData('ICC', data);
  }

  /** Second GENERATE AC with the host's response code (or `Y3` offline) and its field 55 as received. */
  async complete(arc: string, issuerData: Buffer | undefined): Promise<ChipCompletion> {
    if (!/^[0-9A-Z]{2}$/.test(arc)) throw new ReaderRequestError('COMPLETE', 'the response code must be two digits or capitals');
    const [decision, data] = await this.client.chipCommand('COMPLETE', [arc, issuerData?.toString('base64') ?? '']);
    if (decision !== 'TC' && decision !== 'AAC') throw new ReaderProtocolError('COMPLETE', 'decision is neither TC nor AAC');
    return { decision, data: iccData('COMPLETE', data) };
  }

  /** The reader's MAC of `data` under a fresh KSN. */
  async mac(data: Buffer): Promise<MacResult> {
    if (data.length === 0 || data.length > MAX_MAC_DATA_BYTES)
      throw new ReaderRequestError('MAC', `data must be 1 to ${MAX_MAC_DATA_BYTES} bytes`);
    const [ksn = '', mac = ''] = await this.client.chipCommand('MAC', [data.toString('base64')]);
    if (!HEX(24).test(ksn) || !HEX(16).test(mac)) throw new ReaderProtocolError('MAC', 'KSN or MAC is not upper-case hex of its length');
    return { ksn: Buffer.from(ksn, 'hex'), mac: Buffer.from(mac, 'hex') };
  }

  /** Whether the host's `mac` of `data` verifies under the answer key of `ksn`. */
  async verifyMac(ksn: Buffer, data: Buffer, mac: Buffer): Promise<boolean> {
    if (ksn.length !== 12 || mac.length !== 8 || data.length === 0 || data.length > MAX_MAC_DATA_BYTES) return false;
    const [verdict] = await this.client.chipCommand('MACV', [
      ksn.toString('hex').toUpperCase(),
      data.toString('base64'),
      mac.toString('hex').toUpperCase(),
    ]);
    if (verdict !== 'VALID' && verdict !== 'INVALID') throw new ReaderProtocolError('MACV', 'verdict is neither VALID nor INVALID');
    return verdict === 'VALID';
  }
}
