import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Simulator } from '../../sim/index.js';
import type { Figure } from './report.js';
import { now, writeConfigFile } from './rig.js';
import { round, summarize } from './stats.js';

const REPO = resolve(import.meta.dirname, '..', '..', '..');
const MAIN = join(REPO, 'dist', 'firmware-app', 'main.js');

const STARTS = 5;
/** Online sales timed at the boundaries (B3), with the printer's wire at the configured speed. */
const TIMED_SALES = 150;
/** Sales in all before the last memory reading (B4). */
const TOTAL_SALES = 10_000;
const MIDPOINT_SALES = 5_000;
/** Amounts typed ahead of the prompt; it runs them one after another. */
const TYPE_AHEAD = 50;

/** The built process driven through its line prompt, its output read line by line. */
class ProductProcess {
  readonly child: ChildProcess;
  readonly spawnedAt: number;
  readyAt: number | undefined;
  completed = 0;
  declined = 0;
  private pending = '';
  private readonly waiters: { n: number; resolve: () => void }[] = [];
  private readonly ready: Promise<number>;
  private readonly exited: Promise<number | null>;

  constructor(configFile: string) {
    this.spawnedAt = now();
    this.child = spawn(process.execPath, [MAIN, '--config', configFile], { cwd: REPO, stdio: ['pipe', 'pipe', 'pipe'] });
    this.exited = new Promise((res) => this.child.once('exit', (code) => res(code)));
    let stderr = '';
    this.child.stderr?.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-4000);
    });
    this.ready = new Promise((res, rej) => {
      this.child.stdout?.on('data', (d: Buffer) => {
        const at = now();
        this.pending += d.toString();
        const lines = this.pending.split('\n');
        this.pending = lines.pop() ?? '';
        for (const line of lines) {
          if (this.readyAt === undefined && line.includes('pos-companion ready')) {
            this.readyAt = at;
            res(at);
          }
          if (line.includes('DECLINED') || line.startsWith('Error') || line.includes('NOT printed')) this.declined++;
          if (line.includes('Receipt printed.') || line.includes('Receipt NOT printed') || line.includes('Error:')) this.sold();
        }
      });
      this.child.once('exit', (code) => rej(new Error(`product exited (${code}) before it was ready: ${stderr}`)));
    });
    this.ready.catch(() => undefined);
  }

  waitReady(): Promise<number> {
    return this.ready;
  }

  type(line: string): void {
    this.child.stdin?.write(`${line}\n`);
  }

  waitCompleted(n: number): Promise<void> {
    if (this.completed >= n) return Promise.resolve();
    return new Promise((res) => this.waiters.push({ n, resolve: res }));
  }

  /** Resident set size of the product process, from the kernel. */
  rssMb(): number {
    const status = readFileSync(`/proc/${this.child.pid}/status`, 'utf8');
    const kb = Number(/VmRSS:\s+(\d+)\s+kB/.exec(status)?.[1] ?? Number.NaN);
    return kb / 1024;
  }

  async quit(): Promise<void> {
    this.type('q');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 15_000);
    await this.exited;
    clearTimeout(timer);
  }

  private sold(): void {
    this.completed++;
    for (let i = this.waiters.length - 1; i >= 0; i--) {
      const w = this.waiters[i]!;
      if (this.completed >= w.n) {
        this.waiters.splice(i, 1);
        w.resolve();
      }
    }
  }
}

/** The floor for B4's start figure: Node itself starting and writing a line. */
async function bareNodeStartMs(): Promise<number> {
  const t0 = now();
  const child = spawn(process.execPath, ['-e', 'process.stdout.write("ready\\n")'], { stdio: ['ignore', 'pipe', 'ignore'] });
  const at = await new Promise<number>((res) => child.stdout.once('data', () => res(now())));
  await new Promise((res) => child.once('exit', res));
  return at - t0;
}

const isStatusRequest = (chunk: Buffer) => chunk[0] === 0x10 && chunk[1] === 0x04;

/**
 * B3 and B4 against the built process and the simulator (real ptys, loopback TCP): start
 * to ready, the time the product adds on the sale path at the device and host boundaries,
 * and its memory over 10,000 sales.
 */
export async function processRuns(workDir: string): Promise<{ figures: Figure[]; detail: Record<string, unknown> }> {
  const sim = await Simulator.start({ dir: join(workDir, 'sim'), tapDelayMs: 0 });
  const ep = sim.endpoints;
  const dataDir = join(workDir, 'b3b4');
  const configFile = writeConfigFile(dataDir, {
    reader: { path: ep.readerPath },
    printer: { path: ep.printerPath },
    host: { address: ep.hostAddress, port: ep.hostPort },
  });
  try {
    // B4 start: devices and host already up; the first start also creates the database.
    const starts: number[] = [];
    for (let i = 0; i < STARTS; i++) {
      const p = new ProductProcess(configFile);
      starts.push((await p.waitReady()) - p.spawnedAt);
      await p.quit();
    }
    const bare: number[] = [];
    for (let i = 0; i < STARTS; i++) bare.push(await bareNodeStartMs());

    // B3: timestamps in the simulator peers, which include pty and loopback transit. The
    // card-to-0200 leg is timed on every sale; the 0210-to-receipt leg only while the
    // printer's wire runs at the configured speed.
    const cardTo0200: number[] = [];
    const answerToReceipt: number[] = [];
    let cardAt: number | undefined;
    let answeredAt: number | undefined;
    sim.reader.on('card-read', () => {
      cardAt = now();
    });
    sim.host.onRequest((msg) => {
      if (msg.mti !== '0200') return;
      if (cardAt !== undefined) cardTo0200.push(now() - cardAt);
      cardAt = undefined;
      // Observers run before the host answers; the 0210 is written in the same tick.
      queueMicrotask(() => {
        answeredAt = now();
      });
    });
    sim.printer.on('data', (chunk: Buffer) => {
      if (answeredAt === undefined || isStatusRequest(chunk)) return;
      answerToReceipt.push(now() - answeredAt);
      answeredAt = undefined;
    });

    const product = new ProductProcess(configFile);
    await product.waitReady();
    for (let i = 1; i <= TIMED_SALES; i++) {
      product.type('1.00');
      await product.waitCompleted(i);
    }
    const receiptBytesPaced = sim.printer.wireBaudRate;

    // B4 memory: the rest of the 10,000 sales with the printer taking bytes as fast as the pty does.
    sim.printer.wireBaudRate = 0;
    sim.printer.removeAllListeners('data');
    const rss: { sales: number; mb: number }[] = [{ sales: product.completed, mb: round(product.rssMb(), 1) }];
    const tSales = now();
    let typed = product.completed;
    while (product.completed < TOTAL_SALES) {
      while (typed < TOTAL_SALES && typed - product.completed < TYPE_AHEAD) {
        product.type('1.00');
        typed++;
      }
      await product.waitCompleted(Math.min(TOTAL_SALES, product.completed + TYPE_AHEAD / 2));
      sim.printer.receipts.length = 0;
      if (product.completed >= MIDPOINT_SALES && rss.length === 1) rss.push({ sales: product.completed, mb: round(product.rssMb(), 1) });
    }
    rss.push({ sales: product.completed, mb: round(product.rssMb(), 1) });
    const salesPerSecond = (TOTAL_SALES - TIMED_SALES) / ((now() - tSales) / 1000);
    const declined = product.declined;
    await product.quit();

    const s = summarize(starts.slice(1));
    const b = summarize(bare);
    const a = summarize(cardTo0200);
    const r = summarize(answerToReceipt);
    const mid = rss[1]!.mb;
    const end = rss[2]!.mb;
    const growth = (100 * (end - mid)) / mid;
    const figures: Figure[] = [
      {
        id: 'B3',
        name: `card data in -> 0200 out, p99 of ${a.n} sales`,
        value: round(a.p99),
        unit: 'ms',
        target: '<= 5',
        met: a.p99 <= 5,
        limit: `0 (p50 ${round(a.p50)} ms; includes pty + loopback transit)`,
      },
      {
        id: 'B3',
        name: `0210 in -> receipt bytes out, p99 of ${r.n} sales`,
        value: round(r.p99),
        unit: 'ms',
        target: '<= 5',
        met: r.p99 <= 5,
        limit: `0 (p50 ${round(r.p50)} ms; includes loopback + pty transit)`,
      },
      {
        id: 'B4',
        name: 'start to ready, p50 of warm starts',
        value: round(s.p50, 1),
        unit: 'ms',
        target: '<= 500',
        met: s.p50 <= 500,
        limit: `bare node start ${round(b.p50, 1)} ms (worst start ${round(Math.max(...starts), 1)} ms)`,
      },
      {
        id: 'B4',
        name: `RSS after ${rss[2]!.sales} sales`,
        value: end,
        unit: 'MB',
        target: '<= 80',
        met: end <= 80,
        limit: `RSS when ready ${rss[0]!.mb} MB`,
      },
      {
        id: 'B4',
        name: `RSS growth ${rss[1]!.sales} -> ${rss[2]!.sales} sales`,
        value: round(growth, 2),
        unit: '%',
        target: '<= 5',
        met: growth <= 5,
        limit: '0 % (no leak)',
      },
    ];
    return {
      figures,
      detail: {
        startsMs: starts.map((x) => round(x, 1)),
        firstStartCreatesDatabase: true,
        bareNodeStartMs: b,
        cardTo0200Ms: a,
        answerToReceiptMs: r,
        timedSales: TIMED_SALES,
        printerWireBaudDuringTimedSales: receiptBytesPaced,
        rssMb: rss,
        salesPerSecondDuringMemoryRun: round(salesPerSecond, 1),
        notApprovedOrNotPrinted: declined,
        boundaries:
          'card: reader sim emits card-read as it writes the READ answer; 0200: host sim request observer; 0210: after the host wrote its answer; receipt: first non-status chunk off the printer pty',
      },
    };
  } finally {
    await sim.stop();
  }
}
