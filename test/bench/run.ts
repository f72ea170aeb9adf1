import { mkdtempSync, rmSync, statfsSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { configSchema } from '../../firmware-app/config/schema.js';
import { durableAccept } from './durable-accept.js';
import { drain } from './drain.js';
import { fsyncs } from './fsyncs.js';
import { history } from './history.js';
import { printing } from './printing.js';
import { processRuns } from './process-runs.js';
import { renderTable, type Figure } from './report.js';
import { now } from './rig.js';
import { round } from './stats.js';

const RESULTS = resolve(import.meta.dirname, '..', '..', '..', 'test', 'bench', 'results.json');
const IDS = ['B1', 'F', 'H', 'B2', 'B3', 'B4', 'B5'];

/**
 * `npm run bench`: the performance targets of the product, each printed with the floor it
 * is compared to (measured in the same run), judged on medians with the p99 beside, and
 * projected to a 5 ms fsync; written to test/bench/results.json. Everything runs in a
 * fresh temporary folder. Arguments (e.g. `F H`) run only those; B1 always runs, since
 * it measures this disk's fsync and commit floors, which the others are compared to.
 */
async function main(only: readonly string[]): Promise<number> {
  const unknown = only.filter((id) => !IDS.includes(id));
  if (unknown.length > 0) throw new Error(`unknown measurement ${unknown.join(', ')}; known: ${IDS.join(', ')}`);
  const wanted = (id: string) => only.length === 0 || only.includes(id);
  const work = mkdtempSync(join(tmpdir(), 'pos-bench-'));
  const started = now();
  const figures: Figure[] = [];
  const detail: Record<string, unknown> = {};
  let fsyncMs: number | undefined;
  const step = async <T extends { figures: Figure[]; detail: Record<string, unknown> }>(id: string, run: () => Promise<T>): Promise<T> => {
    const t0 = now();
    process.stderr.write(`${id}...`);
    const result = await run();
    figures.push(...result.figures);
    detail[id] = { ...result.detail, seconds: round((now() - t0) / 1000, 1) };
    process.stderr.write(` ${round((now() - t0) / 1000, 1)} s\n`);
    return result;
  };
  try {
    const defaults = configSchema.parse({});
    const b1 = await step('B1', () => durableAccept(work));
    fsyncMs = b1.fsyncMs;
    const perSale = wanted('F') || wanted('H') ? (await step('F', () => fsyncs(work))).perSale : undefined;
    if (wanted('H')) {
      const online = perSale?.online;
      await step('H', () => history(work, { fsyncMs: b1.fsyncMs, fsyncsPerSale: online && online.before + online.after }));
    }
    if (wanted('B2')) await step('B2', () => drain(work, b1, defaults.saf.window, 16));
    if (wanted('B3') || wanted('B4')) await step('B3+B4', () => processRuns(work, b1.fsyncMs));
    if (wanted('B5')) await step('B5', () => printing(work, b1.fsyncMs));
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  const seconds = round((now() - started) / 1000, 1);
  const fs = statfsSync(tmpdir());
  const results = {
    at: new Date().toISOString(),
    seconds,
    machine: {
      node: process.version,
      cpus: cpus().length,
      cpuModel: cpus()[0]?.model ?? '',
      loadavg: loadavg().map((l) => round(l, 2)),
      tmpFsType: fs.type,
    },
    figures,
    detail,
  };
  writeFileSync(RESULTS, `${JSON.stringify(results, null, 2)}\n`);
  process.stdout.write(
    `\n${renderTable(figures)}\n\nflags judged on p50; "at 5 ms fsync" = the figure with each fsync it waited for costing 5 ms instead of this disk's ${round(fsyncMs ?? Number.NaN)} ms\n` +
      `${seconds} s; load average at the end ${loadavg()
        .map((l) => round(l, 2))
        .join(' ')}; results in test/bench/results.json\n`,
  );
  const missed = figures.filter((f) => f.met === false);
  if (missed.length > 0) process.stdout.write(`targets missed: ${missed.map((f) => `${f.id} ${f.name}`).join('; ')}\n`);
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`bench failed: ${String((err as Error)?.stack ?? err)}\n`);
    process.exit(1);
  },
);
