import type { SerialPort } from 'serialport';

/** Wire faults, each consumed frame by frame; see the fault methods of ReaderSim. */
export interface WireFaults {
  corruptAnswers: number;
  damageIncoming: number;
  splitAnswers: number;
  mergeNext: boolean;
  hang: boolean;
  answerDelayMs: number;
}

const MERGE_WAIT_MS = 300;

/**
 * The simulated reader's way onto the line: frames leave in order, and the scripted
 * faults (delay, corrupt checksum, split, merge) happen on the way out.
 */
export class ReaderWire {
  readonly faults: WireFaults = {
    corruptAnswers: 0,
    damageIncoming: 0,
    splitAnswers: 0,
    mergeNext: false,
    hang: false,
    answerDelayMs: 0,
  };
  private port: SerialPort | undefined;
  private out: Promise<void> = Promise.resolve();
  private held: string | undefined;

  attach(port: SerialPort): void {
    this.port = port;
  }

  /** Power off: nothing more is written, and a frame held back for a merge is lost. */
  detach(): void {
    this.port = undefined;
    this.held = undefined;
  }

  /** Writes stay in order; delays and splits happen inside the chain. */
  send(data: Buffer | string, options: { answer?: boolean } = {}): void {
    const { answer = false } = options;
    this.out = this.out.then(async () => {
      if (answer && this.faults.answerDelayMs > 0) await pause(this.faults.answerDelayMs);
      let text = typeof data === 'string' ? data : data.toString('latin1');
      if (answer && this.faults.corruptAnswers > 0) {
        this.faults.corruptAnswers--;
        text = corruptChecksum(text);
      }
      if (this.faults.mergeNext) {
        this.faults.mergeNext = false;
        this.held = text;
        // With nothing following, the held frame still leaves: a merge fault never becomes a hang.
        setTimeout(() => {
          if (this.held !== text) return;
          this.held = undefined;
          void this.write(text);
        }, MERGE_WAIT_MS).unref();
        return;
      }
      if (this.held !== undefined) {
        text = this.held + text;
        this.held = undefined;
      }
      if (answer && this.faults.splitAnswers > 0) {
        this.faults.splitAnswers--;
        const step = Math.max(1, Math.ceil(text.length / 4));
        for (let i = 0; i < text.length; i += step) {
          await this.write(text.slice(i, i + step));
          await pause(20);
        }
        return;
      }
      await this.write(text);
    });
  }

  private write(text: string): Promise<void> {
    const port = this.port;
    if (!port) return Promise.resolve();
    return new Promise((resolve) => port.write(Buffer.from(text, 'latin1'), () => resolve()));
  }
}

function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

/** Flips the checksum's last hex digit, keeping it a hex digit, so only the checksum test fails. */
function corruptChecksum(wire: string): string {
  const i = wire.length - 3;
  const digit = wire[i]!;
  return wire.slice(0, i) + (digit === '0' ? '1' : '0') + wire.slice(i + 1);
}
