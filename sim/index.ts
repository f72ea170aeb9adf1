import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HostSim, type HostSimOptions } from './host/host-sim.js';
import { PrinterSim } from './printer/printer-sim.js';
import { PtyPair } from './pty.js';
import { ReaderSim } from './reader/reader-sim.js';
import { TmsSim } from './tms/tms-sim.js';

export interface SimulatorOptions {
  /** Folder for the pty links; a fresh temporary one by default. */
  dir?: string;
  hostPort?: number;
  host?: HostSimOptions;
  tmsPort?: number;
  tapDelayMs?: number;
}

/** Everything a terminal needs, simulated: reader and printer on ptys, host on loopback TCP. */
export class Simulator {
  readonly reader: ReaderSim;
  readonly printer: PrinterSim;
  readonly host: HostSim;
  /** The terminal-management server on loopback HTTP. */
  readonly tms: TmsSim;
  readonly readerPty: PtyPair;
  readonly printerPty: PtyPair;

  private constructor(
    readonly dir: string,
    options: SimulatorOptions,
  ) {
    this.readerPty = new PtyPair(join(dir, 'reader'), join(dir, 'reader.sim'));
    this.printerPty = new PtyPair(join(dir, 'printer'), join(dir, 'printer.sim'));
    this.reader = new ReaderSim({ path: this.readerPty.simPath, tapDelayMs: options.tapDelayMs });
    this.printer = new PrinterSim({ path: this.printerPty.simPath });
    this.host = new HostSim({ port: options.hostPort ?? 0, ...options.host });
    this.tms = new TmsSim({ port: options.tmsPort ?? 0 });
  }

  static async start(options: SimulatorOptions = {}): Promise<Simulator> {
    const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'pos-sim-'));
    mkdirSync(dir, { recursive: true });
    const sim = new Simulator(dir, options);
    try {
      await sim.readerPty.start();
      await sim.printerPty.start();
      await sim.reader.start();
      await sim.printer.start();
      await sim.host.start();
      await sim.tms.start();
    } catch (err) {
      await sim.stop();
      throw err;
    }
    return sim;
  }

  /** What the terminal's configuration should point at. */
  get endpoints(): { readerPath: string; printerPath: string; hostAddress: string; hostPort: number; tmsUrl: string } {
    return {
      readerPath: this.readerPty.devicePath,
      printerPath: this.printerPty.devicePath,
      hostAddress: '127.0.0.1',
      hostPort: this.host.port,
      tmsUrl: this.tms.url,
    };
  }

  /** The reader's USB cable is pulled: its device path vanishes. */
  async unplugReader(): Promise<void> {
    await this.reader.stop();
    await this.readerPty.stop();
  }

  /** Plugged back in: the same path comes back. */
  async replugReader(): Promise<void> {
    await this.readerPty.start();
    await this.reader.start();
  }

  async stop(): Promise<void> {
    await Promise.allSettled([this.reader.stop(), this.printer.stop(), this.host.stop(), this.tms.stop()]);
    await Promise.allSettled([this.readerPty.stop(), this.printerPty.stop()]);
  }
}
