import iconv from 'iconv-lite';
import { SimError } from '../errors.js';
import { COMMANDS, CR, DLE, ESC, FS, GS, HT, LF, NeedMore, QR_DEFAULTS, unknown, type EscPosEvent, type Modes } from './escpos-commands.js';

export type { EscPosEvent } from './escpos-commands.js';

const EMPTY = Buffer.alloc(0);

/** Byte length of the GB18030 character at `j` (2 or 4), 0 if it is not a valid one, undefined if it is cut off. */
function gb18030Length(buf: Buffer, j: number): number | undefined {
  const second = buf[j + 1];
  if (second === undefined) return undefined;
  if (second >= 0x40 && second <= 0xfe && second !== 0x7f) return 2;
  if (second < 0x30 || second > 0x39) return 0;
  const third = buf[j + 2];
  const fourth = buf[j + 3];
  if (third === undefined || fourth === undefined) return undefined;
  return third >= 0x81 && third <= 0xfe && fourth >= 0x30 && fourth <= 0x39 ? 4 : 0;
}

/** Collects one push's events, joining neighbouring text so a line does not arrive in pieces. */
class Sink {
  readonly events: EscPosEvent[] = [];
  private text = '';

  add(event: EscPosEvent): void {
    if (event.type === 'text') {
      this.text += event.text;
      return;
    }
    this.flush();
    this.events.push(event);
  }

  flush(): EscPosEvent[] {
    if (this.text !== '') this.events.push({ type: 'text', text: this.text });
    this.text = '';
    return this.events;
  }
}

/**
 * Turns the byte stream a printer receives back into events. Serial reads split commands and
 * characters anywhere, so an incomplete tail is held until the rest arrives, up to `maxPending`.
 */
export class EscPosDecoder {
  private readonly maxPending: number;
  private pending = EMPTY;
  /** Bytes still to drop of a command too long to hold; dropping by its declared length keeps the stream in step. */
  private skip = 0;
  private readonly modes: Modes = { chinese: false, qr: undefined, ...QR_DEFAULTS };

  constructor(opts: { maxPending?: number } = {}) {
    const maxPending = opts.maxPending ?? 64 * 1024;
    // Below 16 bytes the longest fixed command or length header could never be held whole.
    if (!Number.isInteger(maxPending) || maxPending < 16) {
      throw new SimError('SIM_ESCPOS_OPTIONS', 'maxPending must be an integer of at least 16', { maxPending });
    }
    this.maxPending = maxPending;
  }

  /** Bytes held while waiting for the rest of a command or character. */
  get pendingBytes(): number {
    return this.pending.length;
  }

  push(chunk: Buffer): EscPosEvent[] {
    if (this.skip > 0) {
      const dropped = Math.min(this.skip, chunk.length);
      this.skip -= dropped;
      chunk = chunk.subarray(dropped);
    }
    const buf = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    const sink = new Sink();
    this.pending = EMPTY;
    for (let i = 0; i < buf.length;) {
      const step = this.step(buf, i, sink);
      if (step instanceof NeedMore) {
        this.hold(buf.subarray(i), step.total, sink);
        break;
      }
      i += step;
    }
    return sink.flush();
  }

  reset(): void {
    this.pending = EMPTY;
    this.skip = 0;
    this.modes.chinese = false;
    this.modes.qr = undefined;
    Object.assign(this.modes, QR_DEFAULTS);
  }

  private hold(rest: Buffer, total: number | undefined, sink: Sink): void {
    if ((total ?? rest.length) <= this.maxPending) {
      this.pending = Buffer.from(rest);
      return;
    }
    sink.add(unknown(rest));
    this.skip = total === undefined ? 0 : total - rest.length;
  }

  private step(buf: Buffer, i: number, sink: Sink): number | NeedMore {
    const b = buf.readUInt8(i);
    if (b === ESC || b === GS || b === FS || b === DLE) return this.command(buf, i, sink);
    if (b === LF || b === HT) {
      sink.add({ type: 'text', text: b === LF ? '\n' : '\t' });
      return 1;
    }
    if (b === CR) return 1;
    if (b < 0x20) {
      sink.add(unknown(buf.subarray(i, i + 1)));
      return 1;
    }
    return this.text(buf, i, sink);
  }

  private command(buf: Buffer, i: number, sink: Sink): number | NeedMore {
    if (i + 1 >= buf.length) return new NeedMore();
    const spec = COMMANDS.get(buf.toString('latin1', i, i + 2));
    if (spec === undefined) {
      // DLE is only a prefix for real-time commands; elsewhere the next byte starts something new.
      const length = buf[i] === DLE ? 1 : 2;
      sink.add(unknown(buf.subarray(i, i + length)));
      return length;
    }
    const total = spec.length(buf, i);
    if (total instanceof NeedMore) return total;
    if (i + total > buf.length) return new NeedMore(total);
    const cmd = buf.subarray(i, i + total);
    const event = spec.event === undefined ? unknown(cmd) : spec.event(cmd, this.modes);
    if (event !== null) sink.add(event);
    return total;
  }

  private text(buf: Buffer, i: number, sink: Sink): number | NeedMore {
    let j = i;
    while (j < buf.length) {
      const b = buf.readUInt8(j);
      if (b >= 0x20 && b < 0x7f) {
        j++;
        continue;
      }
      if (!this.modes.chinese || b < 0x81 || b > 0xfe) break;
      const length = gb18030Length(buf, j);
      if (length === undefined && j === i) return new NeedMore();
      if (!length) break;
      j += length;
    }
    if (j === i) {
      // Neither ASCII nor a whole GB18030 character: printed as a replacement mark, never fatal.
      sink.add({ type: 'text', text: '\uFFFD' });
      return 1;
    }
    const run = buf.subarray(i, j);
    sink.add({ type: 'text', text: this.modes.chinese ? iconv.decode(run, 'gb18030') : run.toString('latin1') });
    return j - i;
  }
}

export type QrSymbol = Omit<Extract<EscPosEvent, { type: 'qr' }>, 'type'>;

/**
 * Convenience: decode a whole buffer into pages (text between cuts) for tests and the sim's
 * receipt log; `qrSymbols` says how wide each QR code came out.
 */
export function decodeToText(bytes: Buffer): { pages: string[]; qr: string[]; qrSymbols: QrSymbol[]; barcodes: string[] } {
  const pages: string[] = [];
  const qr: string[] = [];
  const qrSymbols: QrSymbol[] = [];
  const barcodes: string[] = [];
  let page = '';
  for (const event of new EscPosDecoder().push(bytes)) {
    if (event.type === 'text') page += event.text;
    else if (event.type === 'cut') {
      pages.push(page);
      page = '';
    } else if (event.type === 'qr') {
      const { type: _type, ...symbol } = event;
      qr.push(event.data);
      qrSymbols.push(symbol);
    } else if (event.type === 'barcode') barcodes.push(event.data);
  }
  if (page !== '') pages.push(page);
  return { pages, qr, qrSymbols, barcodes };
}
