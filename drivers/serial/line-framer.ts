import { Transform, type TransformCallback } from 'node:stream';

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
 * Splits a byte stream into lines on LF (a CR right before the LF belongs to the
 * terminator) and emits each line as a latin1 string, so arbitrary bytes never throw and
 * map one-to-one onto characters for the frame parser to judge.
 *
 * Unlike the stock readline parser it never holds more than `maxLength` bytes: a line
 * that outgrows the limit is discarded byte by byte up to its LF, counted, and reported
 * with an `'overlong'` event (at the LF, once the sender has finished it, so a NAK does not
 * cross the rest of the line on the wire). Empty lines are skipped: a CR LF is how a sender
 * flushes a receiver's half-line after noise, not a frame to answer.
 */
export class LineFramer extends Transform {
  readonly maxLength: number;
  readonly stats: LineFramerStats = { lines: 0, bytes: 0, overlong: 0 };
  private parts: Buffer[] = [];
  private held = 0;
  // A CR at the end of a chunk may be the first half of CR LF; holding it as a flag keeps
  // the buffer within maxLength even for a maximum-length line that ends in CR LF.
  private crHeld = false;
  private droppedLength: number | undefined;

  constructor(options: LineFramerOptions = {}) {
    super({ readableObjectMode: true });
    const maxLength = options.maxLength ?? DEFAULT_MAX_LINE_LENGTH;
    if (!Number.isSafeInteger(maxLength) || maxLength < 1) throw new RangeError('LineFramer maxLength must be a positive integer');
    this.maxLength = maxLength;
  }

  /** Bytes of the unfinished line held in memory; never above maxLength. */
  get pendingBytes(): number {
    return this.held;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.stats.bytes += chunk.length;
    let start = 0;
    while (start < chunk.length) {
      const lf = chunk.indexOf(LF, start);
      this.collect(chunk.subarray(start, lf === -1 ? chunk.length : lf));
      if (lf === -1) break;
      this.endLine();
      start = lf + 1;
    }
    callback();
  }

  /** An unterminated tail is an incomplete frame; the sender's timeout covers it. */
  override _flush(callback: TransformCallback): void {
    this.reset();
    callback();
  }

  private collect(segment: Buffer): void {
    if (segment.length === 0) return;
    if (this.crHeld) {
      this.crHeld = false;
      this.append(CR_BYTE);
    }
    if (segment[segment.length - 1] === CR) {
      this.crHeld = true;
      this.append(segment.subarray(0, -1));
    } else {
      this.append(segment);
    }
  }

  private append(bytes: Buffer): void {
    if (bytes.length === 0) return;
    if (this.droppedLength !== undefined) {
      this.droppedLength += bytes.length;
    } else if (this.held + bytes.length > this.maxLength) {
      this.droppedLength = this.held + bytes.length;
      this.parts = [];
      this.held = 0;
    } else {
      // A copy, so a slice of a large chunk does not keep the whole chunk alive.
      this.parts.push(Buffer.from(bytes));
      this.held += bytes.length;
    }
  }

  private endLine(): void {
    const dropped = this.droppedLength;
    const line = Buffer.concat(this.parts, this.held).toString('latin1');
    this.reset();
    if (dropped !== undefined) {
      this.stats.overlong++;
      this.emit('overlong', { length: dropped } satisfies OverlongLine);
    } else if (line.length > 0) {
      this.stats.lines++;
      this.push(line);
    }
  }

  private reset(): void {
    this.parts = [];
    this.held = 0;
    this.crHeld = false;
    this.droppedLength = undefined;
  }
}
