import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { now } from './rig.js';

export const REPO = resolve(import.meta.dirname, '..', '..', '..');
const MAIN = join(REPO, 'dist', 'firmware-app', 'main.js');
const HEAP_PROBE = pathToFileURL(join(import.meta.dirname, 'heap-probe.js')).href;

/** Resident set size of a process, from the kernel. */
export function rssMb(pid: number | undefined): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmRSS:\s+(\d+)\s+kB/.exec(status)?.[1] ?? Number.NaN);
  return kb / 1024;
}

export interface ProductOptions {
  /** Load the heap probe (SIGUSR2 -> JS heap after GC on stderr). */
  heapProbe?: boolean;
  /** A command the product runs under, e.g. strace with its arguments. */
  under?: readonly string[];
}

/** The built process driven through its line prompt, its output read line by line. */
export class ProductProcess {
  readonly child: ChildProcess;
  readonly spawnedAt: number;
  readyAt: number | undefined;
  /** RSS read the moment the ready line arrived. */
  readyRssMb: number | undefined;
  completed = 0;
  notApproved = 0;
  private pending = '';
  private stderrPending = '';
  private readonly waiters: { n: number; resolve: () => void }[] = [];
  private readonly heapWaiters: ((bytes: number) => void)[] = [];
  private readonly ready: Promise<number>;
  private readonly exited: Promise<number | null>;

  constructor(configFile: string, options: ProductOptions = {}) {
    const nodeArgs = [...(options.heapProbe ? ['--expose-gc', '--import', HEAP_PROBE] : []), MAIN, '--config', configFile];
    const [command, ...args] = [...(options.under ?? []), process.execPath, ...nodeArgs];
    this.spawnedAt = now();
    this.child = spawn(command!, args, { cwd: REPO, stdio: ['pipe', 'pipe', 'pipe'] });
    this.exited = new Promise((res) => this.child.once('exit', (code) => res(code)));
    let stderr = '';
    this.child.stderr?.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-4000);
      this.stderrPending += d.toString();
      const lines = this.stderrPending.split('\n');
      this.stderrPending = lines.pop() ?? '';
      for (const line of lines) {
        if (!line.startsWith('pos-bench-heap ')) continue;
        const { heapUsed } = JSON.parse(line.slice('pos-bench-heap '.length)) as { heapUsed: number };
        this.heapWaiters.shift()?.(heapUsed);
      }
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
            if (!options.under) this.readyRssMb = rssMb(this.child.pid);
            res(at);
          }
          if (line.includes('DECLINED') || line.startsWith('Error') || line.includes('NOT printed')) this.notApproved++;
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

  /** The JavaScript heap in use after a full garbage collection, in MB (needs the heap probe). */
  heapAfterGcMb(): Promise<number> {
    const answer = new Promise<number>((res) => this.heapWaiters.push(res));
    this.child.kill('SIGUSR2');
    return answer.then((bytes) => bytes / (1024 * 1024));
  }

  rssMb(): number {
    return rssMb(this.child.pid);
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

/**
 * The floor for the start figure: a bare `node` loading the two native modules the product
 * cannot do without, then writing a line. Its RSS is read at that line, like the product's.
 */
export async function bareNodeStart(): Promise<{ ms: number; rssMb: number }> {
  const script = `await import('better-sqlite3'); await import('serialport'); process.stdout.write('ready\\n'); process.stdin.resume();`;
  const t0 = now();
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { cwd: REPO, stdio: ['pipe', 'pipe', 'inherit'] });
  const at = await new Promise<number>((res) => child.stdout.once('data', () => res(now())));
  const rss = rssMb(child.pid);
  const exited = new Promise((res) => child.once('exit', res));
  child.stdin.end();
  await exited;
  return { ms: at - t0, rssMb: rss };
}
