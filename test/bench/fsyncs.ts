import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Simulator } from '../../sim/index.js';
import type { Figure } from './report.js';
import { MARK_PREFIX } from './rig.js';
import { round, summarize } from './stats.js';

const SALES_PER_KIND = 40;
const KINDS = ['online', 'offline'] as const;
/** The budget: commits before the cashier sees the result, and what may follow it. */
const BUDGET = { online: { before: 2, after: 1 }, offline: { before: 1, after: 1 } };

export interface FsyncCounts {
  /** Per sale kind, the median fsyncs from the sale's start to its result committed, and from there to the next sale. */
  perSale: Record<(typeof KINDS)[number], { before: number; after: number }> | undefined;
  figures: Figure[];
  detail: Record<string, unknown>;
}

function straceAvailable(): boolean {
  const probe = spawnSync('strace', ['-V'], { stdio: 'ignore' });
  return probe.error === undefined && probe.status === 0;
}

/** Splits the trace at the child's marks and counts fsync + fdatasync calls in each phase. */
function countByPhase(trace: string): Map<string, number> {
  const counts = new Map<string, number>();
  let phase = 'start-up';
  for (const line of trace.split('\n')) {
    const at = line.indexOf(MARK_PREFIX);
    if (at >= 0) {
      phase = line.slice(at + MARK_PREFIX.length).split('"')[0]!;
      counts.set(phase, counts.get(phase) ?? 0);
    } else if (/(^|\s)f(data)?sync\(/.test(line)) {
      counts.set(phase, (counts.get(phase) ?? 0) + 1);
    }
  }
  return counts;
}

/**
 * The fsync budget: sales through the whole terminal (in a child process under strace)
 * against the simulator, counted per sale kind: before the result is committed (what the
 * cashier waits for), after it until the next sale (slips marked printed), and the
 * checkpoint the terminal makes once idle.
 */
export async function fsyncs(workDir: string): Promise<FsyncCounts> {
  if (!straceAvailable()) {
    const figures: Figure[] = KINDS.map((kind) => ({
      id: 'F',
      name: `${kind} sale: fsyncs before the result / after it`,
      value: Number.NaN,
      unit: '',
      target: `<= ${BUDGET[kind].before} + ${BUDGET[kind].after} deferred`,
      met: null,
      limit: 'not measured: strace is not installed (apt-get install strace)',
      at5ms: '-',
    }));
    return { perSale: undefined, figures, detail: { strace: 'absent' } };
  }
  const sim = await Simulator.start({ dir: join(workDir, 'fsync-sim'), tapDelayMs: 0 });
  sim.printer.wireBaudRate = 0;
  const traceFile = join(workDir, 'fsync.trace');
  try {
    const ep = sim.endpoints;
    const endpoints = JSON.stringify({
      readerPath: ep.readerPath,
      printerPath: ep.printerPath,
      hostAddress: ep.hostAddress,
      hostPort: ep.hostPort,
    });
    const child = spawn(
      'strace',
      [
        '-f',
        '-qq',
        '-e',
        'trace=fsync,fdatasync,access,faccessat,faccessat2',
        '-o',
        traceFile,
        process.execPath,
        join(import.meta.dirname, 'fsync-child.js'),
        join(workDir, 'fsync'),
        endpoints,
        String(SALES_PER_KIND),
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    if (code !== 0) throw new Error(`fsync child exited ${code}`);
    const walAtIdle = Object.fromEntries(
      out
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { kind: string; walBytes: number })
        .map((r) => [r.kind, r.walBytes]),
    );
    const counts = countByPhase(readFileSync(traceFile, 'utf8'));
    const perSale = {} as NonNullable<FsyncCounts['perSale']>;
    const figures: Figure[] = [];
    const detail: Record<string, unknown> = { salesPerKind: SALES_PER_KIND, walBytesAtIdle: walAtIdle };
    for (const kind of KINDS) {
      const before: number[] = [];
      const after: number[] = [];
      for (let i = 0; i < SALES_PER_KIND; i++) {
        before.push(counts.get(`${kind}-sale-${i}`) ?? 0);
        after.push(counts.get(`${kind}-result-${i}`) ?? 0);
      }
      const checkpoint = counts.get(`${kind}-idle`) ?? 0;
      const b = summarize(before);
      const a = summarize(after);
      perSale[kind] = { before: b.p50, after: a.p50 };
      const budget = BUDGET[kind];
      figures.push(
        {
          id: 'F',
          name: `${kind} sale: fsyncs before the result is committed, p50`,
          value: b.p50,
          unit: '',
          target: `<= ${budget.before}`,
          met: b.p50 <= budget.before,
          limit: `max ${b.max} over ${SALES_PER_KIND} sales; the write-ahead rule needs ${budget.before}`,
          at5ms: `${b.p50 * 5} ms waited`,
        },
        {
          id: 'F',
          name: `${kind} sale: fsyncs after the result (deferred), p50`,
          value: a.p50,
          unit: '',
          target: `<= ${budget.after}`,
          met: a.p50 <= budget.after,
          limit: `max ${a.max}; plus an idle checkpoint of ${checkpoint} fsyncs after ${SALES_PER_KIND} sales (${round(checkpoint / SALES_PER_KIND, 2)} a sale)`,
          at5ms: `${a.p50 * 5} ms after`,
        },
      );
      detail[kind] = { before: b, after: a, idleCheckpointFsyncs: checkpoint };
    }
    detail.startUp = counts.get('start-up') ?? 0;
    return { perSale, figures, detail };
  } finally {
    await sim.stop();
  }
}
