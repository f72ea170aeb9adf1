import { PassThrough } from 'node:stream';
import { stripAnsi, Tty } from '../../firmware-app/ui/tty.js';

/** A Tty over in-memory streams: tests type keys and read the screen as plain text. */
export class FakeTty {
  readonly input = new PassThrough();
  readonly output = new PassThrough();
  readonly tty: Tty;
  private raw = '';

  constructor() {
    this.output.on('data', (d: Buffer) => {
      this.raw += d.toString();
    });
    this.tty = new Tty(this.input, this.output);
  }

  /** Everything written so far, without escape sequences. */
  get screen(): string {
    return stripAnsi(this.raw);
  }

  get rawOutput(): string {
    return this.raw;
  }

  /** Text written after `mark()` was taken. */
  since(mark: number): string {
    return stripAnsi(this.raw.slice(mark));
  }

  mark(): number {
    return this.raw.length;
  }

  type(keys: string): void {
    this.input.write(keys);
  }

  /** Types a line and Enter. */
  enter(line: string): void {
    this.input.write(`${line}\r`);
  }

  async waitFor(pattern: RegExp, from = 0, timeoutMs = 5000): Promise<RegExpMatchArray> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const m = stripAnsi(this.raw.slice(from)).match(pattern);
      if (m) return m;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${pattern}; screen:\n${this.screen}`);
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  end(): void {
    this.input.end();
  }
}
