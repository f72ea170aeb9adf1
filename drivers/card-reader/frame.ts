import { PosError } from '../base/errors.js';
import { xorChecksum } from '../serial/checksum.js';

/**
 * One line of the card-reader protocol (docs/protocols/card-reader.md):
 * `$<seq>,<COMMAND>[,<field>...]*<CS>`. The codec knows the grammar and the seq rules,
 * not what each command's fields mean; that belongs to the reader client and simulator.
 */
export interface Frame {
  seq: string;
  command: string;
  fields: string[];
}

/** From `$` to the last checksum digit, CR LF excluded; the line framer drops anything longer. */
export const MAX_FRAME_LENGTH = 1024;

export type FrameErrorReason =
  | 'no-start'
  | 'no-checksum'
  | 'checksum-mismatch'
  | 'not-printable'
  | 'reserved-char'
  | 'bad-seq'
  | 'bad-command'
  | 'seq-command-mismatch'
  | 'bad-field'
  | 'overlong'
  | 'not-base64'
  | 'not-utf8';

/**
 * A frame that cannot be built or read. The message and details hold the length and the
 * reason only, never the line: a READ answer carries the encrypted card blob, and a
 * damaged line could hold anything.
 */
export class FrameError extends PosError {
  /** The frame's seq when it could be read, so the receiver can NAK that seq instead of 0. */
  readonly seq: string | undefined;
  readonly reason: FrameErrorReason;

  constructor(reason: FrameErrorReason, problem: string, context: { length: number; seq?: string | undefined }, code = 'FRAME_INVALID') {
    super(code, `card-reader ${problem} (${context.length} chars)`, { reason, length: context.length, seq: context.seq });
    this.seq = context.seq;
    this.reason = reason;
  }
}

/** The line arrived damaged: NAK it with CHECKSUM. */
export class FrameChecksumError extends FrameError {
  constructor(context: { length: number; seq?: string | undefined }) {
    super('checksum-mismatch', 'frame fails its checksum', context, 'FRAME_CHECKSUM');
  }
}

/** The line breaks the grammar: NAK it with SYNTAX. */
export class FrameSyntaxError extends FrameError {
  constructor(reason: FrameErrorReason, problem: string, context: { length: number; seq?: string | undefined }) {
    super(reason, problem, context, 'FRAME_SYNTAX');
  }
}

const SEQ = /^(?:0|[1-9][0-9]{0,2}|E[1-9][0-9]{0,2})$/;
const EVENT_SEQ = /^E[1-9][0-9]{0,2}$/;
const LEADING_SEQ = /^\$(0|[1-9][0-9]{0,2}|E[1-9][0-9]{0,2}),/;
const COMMAND = /^[A-Z][A-Z0-9_]*$/;
const PRINTABLE = /^[\x20-\x7E]*$/;
// `*` is allowed inside a field because the masked PAN is filled with it (476173******0010);
// the checksum delimiter is therefore found by position, always the third character from the end.
const FIELD = /^[\x20-\x23\x25-\x2B\x2D-\x7E]*$/;
const HEX2 = /^[0-9A-Fa-f]{2}$/;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

export function isEventSeq(seq: string): boolean {
  return EVENT_SEQ.test(seq);
}

/**
 * Seq 0 exists only so a NAK can answer a line whose seq was unreadable, and the E space
 * belongs to unsolicited events, which are never answered; anything else would let a
 * response be mistaken for an event or the other way round.
 */
function seqCommandProblem(seq: string, command: string): string | undefined {
  if (seq === '0' && command !== 'NAK') return 'frame uses seq 0, which only a NAK may carry';
  if (isEventSeq(seq) !== (command === 'EVENT')) return 'frame mixes the event seq space with a non-EVENT command';
  return undefined;
}

export function encodeFrame(f: Frame): string {
  const body = [f.seq, f.command, ...f.fields].join(',');
  const context = { length: body.length + 4, seq: SEQ.test(f.seq) ? f.seq : undefined };
  if (!context.seq) throw new FrameError('bad-seq', 'frame has a seq outside 0, 1-999 and E1-E999', context);
  if (!COMMAND.test(f.command)) throw new FrameError('bad-command', 'frame has a command that is not A-Z, 0-9 and _', context);
  const mismatch = seqCommandProblem(f.seq, f.command);
  if (mismatch) throw new FrameError('seq-command-mismatch', mismatch, context);
  f.fields.forEach((field, i) => {
    if (!FIELD.test(field)) {
      throw new FrameError(
        'bad-field',
        `frame has field ${i} holding a character outside printable ASCII, or a comma or $ (send it base64)`,
        context,
      );
    }
  });
  const line = `$${body}*${xorChecksum(body)}`;
  if (line.length > MAX_FRAME_LENGTH) throw new FrameError('overlong', `frame exceeds the ${MAX_FRAME_LENGTH}-char maximum`, context);
  return `${line}\r\n`;
}

/** `line` is one line from the framer, without its CR LF. */
export function parseFrame(line: string): Frame {
  const context = { length: line.length, seq: LEADING_SEQ.exec(line)?.[1] };
  if (!line.startsWith('$')) throw new FrameSyntaxError('no-start', 'frame does not start with $', context);
  const star = line.length - 3;
  if (star < 1 || line[star] !== '*' || !HEX2.test(line.slice(star + 1))) {
    throw new FrameSyntaxError('no-checksum', 'frame does not end with * and two hex digits', context);
  }
  const body = line.slice(1, star);
  // Checked before the content so that bytes damaged in transit are reported as what they
  // are (CHECKSUM); a SYNTAX NAK then means the sender itself builds bad frames.
  if (xorChecksum(body) !== line.slice(star + 1).toUpperCase()) throw new FrameChecksumError(context);
  if (!PRINTABLE.test(body)) throw new FrameSyntaxError('not-printable', 'frame holds bytes outside printable ASCII', context);
  if (body.includes('$')) throw new FrameSyntaxError('reserved-char', 'frame holds a $ inside its body', context);
  const [seq = '', command = '', ...fields] = body.split(',');
  if (!SEQ.test(seq)) throw new FrameSyntaxError('bad-seq', 'frame has a seq outside 0, 1-999 and E1-E999', context);
  if (!COMMAND.test(command)) throw new FrameSyntaxError('bad-command', 'frame has a command that is not A-Z, 0-9 and _', context);
  const mismatch = seqCommandProblem(seq, command);
  if (mismatch) throw new FrameSyntaxError('seq-command-mismatch', mismatch, context);
  return { seq, command, fields };
}

/** Text that may hold `,` `*` `$` or non-ASCII (display lines, CJK) travels as base64 of its UTF-8. */
export const enc64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64');

// ignoreBOM keeps a leading U+FEFF, so dec64(enc64(s)) === s for every well-formed string.
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Strict inverse of enc64: Buffer's own base64 decoder silently skips junk, which would hide a broken peer. */
export const dec64 = (s: string): string => {
  if (!BASE64.test(s)) throw new FrameSyntaxError('not-base64', 'text field is not canonical base64', { length: s.length });
  try {
    return utf8.decode(Buffer.from(s, 'base64'));
  } catch {
    throw new FrameSyntaxError('not-utf8', 'text field is not UTF-8', { length: s.length });
  }
};
