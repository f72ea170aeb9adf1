import type { TransformCallback } from 'node:stream';
import { ReadlineParser } from '@serialport/parser-readline';

export const DEFAULT_MAX_LINE_LENGTH = 1024;

export interface LineFramerOptions {
  /** Longest line kept, in bytes, terminator excluded. */
  maxLength?: number;
}

export interface LineFramerStats {
  /** Lines emitted. */
  lines: number;
  /** Bytes received, terminators and dropped lines included. */
  bytes: number;
  /** Lines dropped for exceeding maxLength. */
  overlong: number;
}

/** Payload of the `'overlong'` event: how long the dropped line was, never its content. */
export interface OverlongLine {
  length: number;
}

const LF = 0x0a;
const CR = 0x0d;
const CR_BYTE = Buffer.from([CR]);

/**
 * The stock readline parser (split on LF) behind a length guard. The parser alone buffers
 * without limit, so every chunk passes the guard first: while a line fits it goes to the
 * parser; the byte that makes it overlong empties the parser's buffer (its public `buffer`,
 * on this same object, so nothing is in flight between the two) and the rest of the line
 * is discarded up to its LF. The dropped line is counted and reported with an `'overlong'`
 * event at that LF, once the sender has finished it, so a NAK does not cross the rest of
 * the line on the wire.
 *
 * Lines come out as latin1 strings, so arbitrary bytes never throw and map one-to-one onto
 * characters for the frame parser to judge. A CR right before the LF belongs to the
 * terminator. Empty lines are skipped: a CR LF is how a sender flushes a receiver's
 * half-line after noise, not a frame to answer.
 */
export class LineFramer extends ReadlineParser {
  readonly maxLength: number;
  readonly stats: LineFramerStats = { lines: 0, bytes: 0, overlong: 0 };
  /** Length so far of the line being dropped; undefined while the current line fits. */
  private droppedLength: number | undefined;
  // A CR at the end of a piece may be the first half of CR LF; holding it as a flag keeps
  // the parser's buffer within maxLength even for a maximum-length line that ends in CR LF.
  private crHeld = false;

  constructor(options: LineFramerOptions = {}) {
    // No readable encoding: lines are pushed as latin1 strings in object mode, one per line.
    super({ delimiter: Buffer.from([LF]), encoding: undefined, readableObjectMode: true });
    const maxLength = options.maxLength ?? DEFAULT_MAX_LINE_LENGTH;
    if (!Number.isSafeInteger(maxLength) || maxLength < 1) throw new RangeError('LineFramer maxLength must be a positive integer');
    this.maxLength = maxLength;
  }

  /** Bytes of the unfinished line held in memory; never above maxLength. */
  get pendingBytes(): number {
    return this.buffer.length;
  }

  override _transform(chunk: Buffer, encoding: BufferEncoding, callback: TransformCallback): void {
    this.stats.bytes += chunk.length;
    let start = 0;
    while (start < chunk.length) {
      const lf = chunk.indexOf(LF, start);
      const end = lf === -1 ? chunk.length : lf;
      this.guard(chunk.subarray(start, end));
      if (lf === -1) break;
      this.crHeld = false;
      if (this.droppedLength !== undefined) {
        this.stats.overlong++;
        this.emit('overlong', { length: this.droppedLength } satisfies OverlongLine);
        this.droppedLength = undefined;
      } else {
        super._transform(chunk.subarray(lf, lf + 1), encoding, () => undefined);
      }
      start = lf + 1;
    }
    callback();
  }

  /** An unterminated tail is an incomplete frame; the sender's timeout covers it. */
  override _flush(callback: TransformCallback): void {
    this.buffer = Buffer.alloc(0);
    this.droppedLength = undefined;
    this.crHeld = false;
    callback();
  }

  /** The parser's output: one line, terminator removed, empty lines skipped. */
  override push(chunk: unknown, encoding?: BufferEncoding): boolean {
    if (!Buffer.isBuffer(chunk)) return super.push(chunk, encoding);
    if (chunk.length === 0) return true;
    this.stats.lines++;
    return super.push(chunk.toString('latin1'));
  }

  /** Passes a piece of the current line (no LF in it) to the parser while the line fits. */
  private guard(segment: Buffer): void {
    if (segment.length === 0) return;
    let piece = segment;
    if (this.crHeld) {
      this.crHeld = false;
      piece = Buffer.concat([CR_BYTE, segment]);
    }
    if (piece[piece.length - 1] === CR) {
      this.crHeld = true;
      piece = piece.subarray(0, -1);
    }
    if (this.droppedLength !== undefined) {
      this.droppedLength += piece.length;
      return;
    }
    const held = this.buffer.length + piece.length;
    if (held > this.maxLength) {
      this.droppedLength = held;
      this.buffer = Buffer.alloc(0);
      return;
    }
    // A copy, so a slice of a large chunk does not keep the whole chunk alive.
    this.buffer = Buffer.concat([this.buffer, piece], held);
  }
}
