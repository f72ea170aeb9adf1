import { pack, responseMti, type IsoMessage } from './iso8583/packager.js';

/** A request packed ahead of its turn: its bytes are ready when it may leave. */
export interface PreparedRequest {
  readonly msg: IsoMessage;
  /** The 2-byte big-endian length header and the packed message, as they go on the wire. */
  readonly frame: Buffer;
  /** What its answer is matched by. */
  readonly key: string;
}

export function fieldText(msg: IsoMessage, n: number): string {
  const v = msg.fields.get(n);
  return typeof v === 'string' ? v : '';
}

/** The key that pairs a response with its request: response MTI class + terminal id + STAN. */
export function matchKey(mti: string, msg: IsoMessage): string {
  return `${mti}|${fieldText(msg, 41)}|${fieldText(msg, 11)}`;
}

/** Packs `msg` with its length header in one buffer (one write on the socket, no copy to join them). */
export function prepareRequest(msg: IsoMessage): PreparedRequest {
  const body = pack(msg);
  const frame = Buffer.allocUnsafe(2 + body.length);
  frame.writeUInt16BE(body.length, 0);
  body.copy(frame, 2);
  return { msg, frame, key: matchKey(responseMti(msg.mti), msg) };
}
