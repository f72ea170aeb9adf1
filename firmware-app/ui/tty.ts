import { emitKeypressEvents } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import type { Clock } from '../../drivers/base/clock.js';

/** One key as the UI sees it; `eof` when the input ended (terminal closed, pipe shut). */
export interface Key {
  name: string;
  /** The printable character, when the key produced one. */
  ch?: string;
  ctrl: boolean;
}

export interface MenuItem {
  /** The hotkey that picks the item (a digit or a letter). */
  key: string;
  label: string;
}

const ESC = '\x1b[';

export const ansi = {
  clear: `${ESC}2J${ESC}H`,
  clearLine: `${ESC}2K`,
  saveCursor: '\x1b7',
  restoreCursor: '\x1b8',
  moveTo: (row: number, col = 1) => `${ESC}${row};${col}H`,
  inverse: (s: string) => `${ESC}7m${s}${ESC}0m`,
  bold: (s: string) => `${ESC}1m${s}${ESC}0m`,
};

/** Removes ANSI escape sequences (tests and plain captures read screens without them). */
export function stripAnsi(s: string): string {
  return s.replace(/\x1b\[[0-9;?]*[A-Za-z]|\x1b[78]/g, '');
}

/** A text progress bar: `[#######.............]  7/20`. */
export function progressBar(done: number, total: number, width = 20): string {
  const ratio = total <= 0 ? 1 : Math.min(1, Math.max(0, done / total));
  const filled = Math.round(ratio * width);
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total}`;
}

/**
 * The keyboard layer the cashier console and the diagnostic menu are built on: keys from
 * `node:readline`'s keypress decoder over an injected input stream, text to an injected
 * output stream. A real TTY is put in raw mode; tests pass plain streams and type into them.
 */
export class Tty {
  private readonly keys: Key[] = [];
  private waiter: ((k: Key) => void) | undefined;
  private interceptor: ((k: Key) => void) | undefined;
  private ended = false;
  private readonly onKeypress = (ch: string | undefined, key: { name?: string; ctrl?: boolean; sequence?: string } | undefined) => {
    const name = key?.name ?? ch ?? '';
    const printable = ch !== undefined && ch.length === 1 && ch >= ' ' && ch !== '\x7f' ? ch : undefined;
    this.push({ name, ch: key?.ctrl ? undefined : printable, ctrl: key?.ctrl ?? false });
  };
  private readonly onEnd = () => {
    this.ended = true;
    this.push({ name: 'eof', ctrl: false });
  };

  constructor(
    private readonly input: Readable & { isTTY?: boolean; setRawMode?: (raw: boolean) => unknown },
    private readonly output: Writable,
  ) {
    emitKeypressEvents(input);
    if (input.isTTY && input.setRawMode) input.setRawMode(true);
    input.on('keypress', this.onKeypress);
    input.once('end', this.onEnd);
    input.resume();
  }

  /** True once the input has ended: no key will ever come again. */
  get inputEnded(): boolean {
    return this.ended;
  }

  /** Height of the screen when the output is a terminal; a fixed size otherwise. */
  get rows(): number {
    return (this.output as Writable & { rows?: number }).rows ?? 40;
  }

  write(text: string): void {
    this.output.write(text);
  }

  line(text = ''): void {
    this.output.write(`${text}\n`);
  }

  nextKey(): Promise<Key> {
    const k = this.keys.shift();
    if (k) return Promise.resolve(k);
    if (this.ended) return Promise.resolve({ name: 'eof', ctrl: false });
    return new Promise((resolve) => {
      this.waiter = resolve;
    });
  }

  /** The next key, or null when none comes within `ms` (screens that refresh while they wait). */
  keyWithin(ms: number, clock: Clock): Promise<Key | null> {
    const k = this.keys.shift();
    if (k) return Promise.resolve(k);
    if (this.ended) return Promise.resolve({ name: 'eof', ctrl: false });
    return new Promise((resolve) => {
      const waiter = (key: Key) => {
        clock.clearTimeout(timer);
        resolve(key);
      };
      const timer = clock.setTimeout(() => {
        if (this.waiter === waiter) this.waiter = undefined;
        resolve(null);
      }, ms);
      this.waiter = waiter;
    });
  }

  /** Puts a key back in front of the queue: the next screen reads it as if it came now. */
  unread(k: Key): void {
    this.keys.unshift(k);
  }

  /** Reads one line with echo (or `*` when masked). Escape, Ctrl-C or end of input give null. */
  async readLine(prompt: string, options: { mask?: boolean; maxLength?: number } = {}): Promise<string | null> {
    const maxLength = options.maxLength ?? 64;
    let value = '';
    this.write(prompt);
    for (;;) {
      const k = await this.nextKey();
      if (isAbort(k)) {
        this.write('\n');
        return null;
      }
      if (k.name === 'return' || k.name === 'enter') {
        this.write('\n');
        return value;
      }
      if (k.name === 'backspace') {
        if (value.length > 0) {
          value = value.slice(0, -1);
          this.write('\b \b');
        }
        continue;
      }
      if (k.ch !== undefined && value.length < maxLength) {
        value += k.ch;
        this.write(options.mask ? '*' : k.ch);
      }
    }
  }

  /** Waits for one of the items' hotkeys; Escape, Ctrl-C or end of input give null. */
  async choose(items: readonly MenuItem[]): Promise<string | null> {
    for (;;) {
      const k = await this.nextKey();
      if (isAbort(k)) return null;
      const picked = items.find((i) => i.key === (k.ch ?? k.name).toLowerCase());
      if (picked) return picked.key;
    }
  }

  /** Waits for any key; true unless the input ended or the user asked to quit. */
  async pause(): Promise<boolean> {
    const k = await this.nextKey();
    return k.name !== 'eof' && !(k.ctrl && k.name === 'c');
  }

  close(): void {
    this.input.off('keypress', this.onKeypress);
    this.input.off('end', this.onEnd);
    if (this.input.isTTY && this.input.setRawMode) this.input.setRawMode(false);
    this.input.pause();
  }

  /**
   * Hands every key to `onKey` until `work` settles (Escape to cancel a card read, for
   * instance), so no key typed during a long operation is left for the next prompt.
   */
  async whileRunning<T>(work: Promise<T>, onKey: (k: Key) => void): Promise<T> {
    for (const k of this.keys.splice(0)) onKey(k);
    this.interceptor = onKey;
    try {
      return await work;
    } finally {
      this.interceptor = undefined;
    }
  }

  private push(k: Key): void {
    if (this.interceptor) {
      this.interceptor(k);
      return;
    }
    const w = this.waiter;
    if (w) {
      this.waiter = undefined;
      w(k);
    } else {
      this.keys.push(k);
    }
  }
}

export function isAbort(k: Key): boolean {
  return k.name === 'escape' || k.name === 'eof' || (k.ctrl && k.name === 'c');
}

export function renderMenu(items: readonly MenuItem[]): string[] {
  return items.map((i) => `  [${i.key}] ${i.label}`);
}
