import type { MacResult } from '../../drivers/card-reader/chip.js';
import { isPosError } from '../../drivers/base/errors.js';
import { HostProtocolError, HostUnreachableError } from './errors.js';
import type { LinkState } from './link.js';
import { pack, type IsoMessage } from './iso8583/packager.js';

/**
 * MACed host messages (docs/protocols/host-iso8583.md section 4.8). The terminal holds no
 * key: the reader MACs each 0200 (field 62 its KSN, the MAC last, in 64 or 128) and checks
 * the MAC of the 0210. An answer whose MAC does not verify is no answer: a HostProtocolError,
 * reported like any answer that does not fit its request, so the payment is reversed and a
 * critical alert raised.
 */
export interface MacDevice {
  mac(data: Buffer): Promise<MacResult>;
  verifyMac(ksn: Buffer, data: Buffer, mac: Buffer): Promise<boolean>;
}

export interface MacLink {
  readonly state: LinkState;
  readonly ready: boolean;
  request(msg: IsoMessage, timeoutMs: number): Promise<IsoMessage>;
  reportInvalidAnswer(err: HostProtocolError): void;
}

const MAC_BYTES = 8;
const KSN_BYTES = 12;
/**
 * The MAC's KSN travels in private-use field 62 (section 4.8): field 53 is the PIN block's
 * KSN, and a PIN sale carries both.
 */
const MAC_KSN_FIELD = 62;
/** The messages the terminal MACs in this version. */
const MACED_MTIS = new Set(['0200']);

/** The MAC is the last field: 128 when the message has a secondary bitmap, else 64. */
function macField(fields: ReadonlyMap<number, unknown>): 64 | 128 {
  return [...fields.keys()].some((n) => n > 64 && n !== 128) ? 128 : 64;
}

function withMac(msg: IsoMessage, ksn: Buffer, mac: Buffer): IsoMessage {
  const fields = new Map(msg.fields);
  fields.set(MAC_KSN_FIELD, ksn);
  fields.set(macField(fields), mac);
  return { mti: msg.mti, fields: new Map([...fields].sort(([a], [b]) => a - b)) };
}

/**
 * Every byte of the message before its MAC, field 62 counted as zeros: the reader picks the
 * KSN as it computes the MAC, and a changed KSN changes the key, so it is covered all the same.
 * The PIN block's KSN (53) is known before the MAC and is covered as it is.
 */
function macInput(msg: IsoMessage): Buffer {
  const fields = new Map(msg.fields);
  if (fields.has(MAC_KSN_FIELD)) fields.set(MAC_KSN_FIELD, Buffer.alloc(KSN_BYTES));
  return pack({ mti: msg.mti, fields }).subarray(0, -MAC_BYTES);
}

export class MacedChannel {
  constructor(
    private readonly link: MacLink,
    private readonly device: MacDevice,
  ) {}

  get state(): LinkState {
    return this.link.state;
  }

  get ready(): boolean {
    return this.link.ready;
  }

  async request(msg: IsoMessage, timeoutMs: number): Promise<IsoMessage> {
    if (!MACED_MTIS.has(msg.mti)) return this.link.request(msg, timeoutMs);
    const signed = await this.sign(msg);
    const answer = await this.link.request(signed, timeoutMs);
    if (await this.answerVerifies(signed, answer)) return answer;
    const stan = signed.fields.get(11);
    const err = new HostProtocolError(`${answer.mti} MAC does not verify`, { mti: signed.mti, stan: typeof stan === 'string' ? stan : '' });
    this.link.reportInvalidAnswer(err);
    throw err;
  }

  /**
   * Nothing has left when the reader cannot MAC: the request is refused as unsendable, which
   * the payment treats like a request that may have left (its online_sent is committed).
   */
  private async sign(msg: IsoMessage): Promise<IsoMessage> {
    try {
      const { ksn, mac } = await this.device.mac(macInput(withMac(msg, Buffer.alloc(KSN_BYTES), Buffer.alloc(MAC_BYTES))));
      // The KSN goes in after the MAC is computed: the MAC input counts field 62 as zeros.
      return withMac(msg, ksn, mac);
    } catch (err) {
      throw new HostUnreachableError(`the reader could not MAC the request (${isPosError(err) ? err.code : 'error'})`);
    }
  }

  /** Field 62 echoed and a MAC in the last field that the reader verifies; a reader that cannot tell makes it unverified. */
  private async answerVerifies(request: IsoMessage, answer: IsoMessage): Promise<boolean> {
    const ksn = answer.fields.get(MAC_KSN_FIELD);
    const field = macField(answer.fields);
    const mac = answer.fields.get(field);
    const sentKsn = request.fields.get(MAC_KSN_FIELD);
    if (!Buffer.isBuffer(ksn) || !Buffer.isBuffer(mac) || !Buffer.isBuffer(sentKsn) || !ksn.equals(sentKsn)) return false;
    if (answer.fields.has(field === 64 ? 128 : 64)) return false;
    try {
      return await this.device.verifyMac(ksn, macInput(answer), mac);
    } catch {
      return false;
    }
  }
}
