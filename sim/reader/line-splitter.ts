import { MAX_LINE_BYTES } from './frame.js';

/** What a chunk of received bytes completes: a line (latin1, terminator removed) or an overlong line's length. */
export type SplitItem = { line: string } | { overlongBytes: number };

/**
 * The reader's receive side of section 2 of docs/protocols/card-reader.md: lines end at
 * LF, one CR right before the LF belongs to the terminator, empty lines are skipped, and
 * never more than MAX_LINE_BYTES of a line is held. A longer line is counted up to its LF
 * and reported there, once the sender has finished it, so the NAK does not cross it.
 */
export class LineSplitter {
  private held = Buffer.alloc(0);
  private overlongBytes: number | undefined;
  private endsWithCr = false;

  constructor(private readonly maxBytes = MAX_LINE_BYTES) {}

  /** Bytes of the unfinished line kept in memory. */
  get heldBytes(): number {
    return this.held.length;
  }

  push(chunk: Buffer): SplitItem[] {
    const items: SplitItem[] = [];
    let from = 0;
    for (let lf = chunk.indexOf(0x0a); lf !== -1; lf = chunk.indexOf(0x0a, from)) {
      this.take(chunk.subarray(from, lf));
      const item = this.finishLine();
      if (item) items.push(item);
      from = lf + 1;
    }
    this.take(chunk.subarray(from));
    return items;
  }

  /**
   * A CR at the end of what has arrived may be the first half of CR LF, so it is held
   * without counting against the limit until the next byte says what it was.
   */
  private take(bytes: Buffer): void {
    if (bytes.length === 0) return;
    this.endsWithCr = bytes[bytes.length - 1] === 0x0d;
    if (this.overlongBytes !== undefined) {
      this.overlongBytes += bytes.length;
      return;
    }
    const joined = Buffer.concat([this.held, bytes]);
    if (joined.length - (this.endsWithCr ? 1 : 0) > this.maxBytes) {
      this.overlongBytes = joined.length;
      this.held = Buffer.alloc(0);
      return;
    }
    this.held = joined;
  }

  private finishLine(): SplitItem | undefined {
    const overlong = this.overlongBytes;
    const crBeforeLf = this.endsWithCr;
    const line = crBeforeLf ? this.held.subarray(0, -1) : this.held;
    this.held = Buffer.alloc(0);
    this.overlongBytes = undefined;
    this.endsWithCr = false;
    if (overlong !== undefined) return { overlongBytes: overlong - (crBeforeLf ? 1 : 0) };
    return line.length === 0 ? undefined : { line: line.toString('latin1') };
  }
}
