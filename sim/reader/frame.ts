import { SimError } from '../errors.js';

/**
 * The simulated reader's frame codec, written from docs/protocols/card-reader.md sections
 * 2-4 alone: `$<seq>,<COMMAND>[,<field>...]*<CS>` with an XOR checksum over the bytes
 * between `$` and `*`.
 */
export interface ReaderFrame {
  seq: string;
  command: string;
  fields: string[];
}

/** Section 2: from `$` to the last checksum digit, CR LF excluded. */
export const MAX_LINE_BYTES = 1024;

export type NakReason = 'CHECKSUM' | 'SYNTAX' | 'OVERLONG';

/**
 * A line the reader cannot accept, with the NAK reason section 2 assigns it and the seq
 * section 5.4 answers with (undefined when `$<seq>,` could not be read). The message holds
 * the line's length only: a damaged line could hold anything.
 */
export class ReaderFrameError extends SimError {
  constructor(
    readonly nak: NakReason,
    readonly seq: string | undefined,
    problem: string,
    length: number,
  ) {
    super(nak === 'CHECKSUM' ? 'SIM_READER_FRAME_CHECKSUM' : 'SIM_READER_FRAME_SYNTAX', `reader frame ${problem} (${length} bytes)`, {
      length,
    });
  }
}

// Section 4: commands 1-999 without leading zeros, events E1-E999, and 0 for a NAK only.
const COMMAND_SEQ = /^[1-9]\d{0,2}$/;
const EVENT_SEQ = /^E[1-9]\d{0,2}$/;
const COMMAND_NAME = /^[A-Z][A-Z0-9_]*$/;

function seqOf(token: string): string | undefined {
  return token === '0' || COMMAND_SEQ.test(token) || EVENT_SEQ.test(token) ? token : undefined;
}

export function isEventSeq(seq: string): boolean {
  return EVENT_SEQ.test(seq);
}

/** Section 3: XOR of the body's bytes as two upper-case hex digits. */
function checksum(body: string): string {
  let x = 0;
  for (const byte of Buffer.from(body, 'latin1')) x ^= byte;
  return x.toString(16).toUpperCase().padStart(2, '0');
}

/** Section 2: a field is printable ASCII without `,` and `$` (`*` is allowed: the masked PAN). */
function fieldIsPlain(field: string): boolean {
  for (let i = 0; i < field.length; i++) {
    const c = field.charCodeAt(i);
    if (c < 0x20 || c > 0x7e || c === 0x2c || c === 0x24) return false;
  }
  return true;
}

/** The pairing rules of section 2's table: seq 0 only on NAK, the E space only and always on EVENT. */
function pairingProblem(seq: string, command: string): string | undefined {
  if (seq === '0' && command !== 'NAK') return 'uses seq 0 on a command other than NAK';
  if (isEventSeq(seq) && command !== 'EVENT') return 'uses an event seq on a command other than EVENT';
  if (!isEventSeq(seq) && command === 'EVENT') return 'sends EVENT outside the event seq space';
  return undefined;
}

/** The wire form, CR LF included. Refuses what section 2 says a sender must not build. */
export function encodeFrame(frame: ReaderFrame): string {
  const body = [frame.seq, frame.command, ...frame.fields].join(',');
  const length = body.length + 4;
  const refuse = (problem: string): never => {
    throw new ReaderFrameError('SYNTAX', undefined, problem, length);
  };
  if (seqOf(frame.seq) === undefined) refuse('has a seq outside 0, 1-999 and E1-E999');
  if (!COMMAND_NAME.test(frame.command)) refuse('has a malformed command');
  const pairing = pairingProblem(frame.seq, frame.command);
  if (pairing) refuse(pairing);
  if (!frame.fields.every(fieldIsPlain)) refuse('has a field that must travel as base64');
  if (length > MAX_LINE_BYTES) refuse(`is longer than ${MAX_LINE_BYTES} bytes`);
  return `$${body}*${checksum(body)}\r\n`;
}

/**
 * One received line, CR LF already removed, in the order of section 2: shape, then
 * checksum (so damage in transit reads as CHECKSUM), then content.
 */
export function parseFrame(line: string): ReaderFrame {
  const readable = /^\$([^,]*),/.exec(line);
  const seq = readable ? seqOf(readable[1]!) : undefined;
  const fail = (nak: NakReason, problem: string): never => {
    throw new ReaderFrameError(nak, seq, problem, line.length);
  };
  if (line.length > MAX_LINE_BYTES) fail('OVERLONG', `is longer than ${MAX_LINE_BYTES} bytes`);
  if (line[0] !== '$') fail('SYNTAX', 'does not start with $');
  // Section 2: the delimiter is found by position, since the masked PAN holds `*` too.
  const star = line.length - 3;
  if (star < 1 || line[star] !== '*' || !/^[0-9A-Fa-f]{2}$/.test(line.slice(star + 1))) {
    fail('SYNTAX', 'does not end with * and two hex digits');
  }
  const body = line.slice(1, star);
  if (checksum(body) !== line.slice(star + 1).toUpperCase()) fail('CHECKSUM', 'fails its checksum');
  if (!/^[\x20-\x7e]*$/.test(body)) fail('SYNTAX', 'holds a byte outside printable ASCII');
  if (body.includes('$')) fail('SYNTAX', 'holds a $ inside its body');
  const [seqToken = '', command = '', ...fields] = body.split(',');
  if (seqOf(seqToken) === undefined) fail('SYNTAX', 'has a malformed seq');
  if (!COMMAND_NAME.test(command)) fail('SYNTAX', 'has a malformed command');
  const pairing = pairingProblem(seqToken, command);
  if (pairing) fail('SYNTAX', pairing);
  return { seq: seqToken, command, fields };
}

const CANONICAL_BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const STRICT_UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

export function isCanonicalBase64(field: string): boolean {
  return CANONICAL_BASE64.test(field);
}

/** Section 2: text travels as base64 of its UTF-8 bytes. */
export function encodeText(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64');
}

/** The inverse of encodeText; anything else is a SYNTAX error, never silently repaired. */
export function decodeText(field: string): string {
  if (!isCanonicalBase64(field))
    throw new ReaderFrameError('SYNTAX', undefined, 'has a text field that is not canonical base64', field.length);
  try {
    return STRICT_UTF8.decode(Buffer.from(field, 'base64'));
  } catch {
    throw new ReaderFrameError('SYNTAX', undefined, 'has a text field that is not UTF-8', field.length);
  }
}
