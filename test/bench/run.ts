import { mkdtempSync, rmSync, statfsSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { configSchema } from '../../firmware-app/config/schema.js';
import { durableAccept } from './durable-accept.js';
import { drain } from './drain.js';
import { printing } from './printing.js';
import { processRuns } from './process-runs.js';
import { renderTable, type Figure } from './report.js';
import { now } from './rig.js';
import { round } from './stats.js';

const RESULTS = resolve(import.meta.dirname, '..', '..', '..', 'test', 'bench', 'results.json');

/**
 * `npm run bench`: the five performance measurements of the product, each printed with
 * its target and the limit it is compared to, and written to test/bench/results.json.
 * Everything runs in a fresh temporary folder. Arguments (e.g. `B3 B5`) run only those
 * measurements; B2 drains the queue B1 fills, so it brings B1 along.
 */
async function main(only: readonly string[]): Promise<number> {
  const wanted = (id: string) => only.length === 0 || only.includes(id);
  const work = mkdtempSync(join(tmpdir(), 'pos-bench-'));
  const started = now();
  const figures: Figure[] = [];
  const detail: Record<string, unknown> = {};
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
    if (wanted('B1') || wanted('B2')) {
      const b1 = await step('B1', () => durableAccept(work));
      if (wanted('B2')) await step('B2', () => drain(work, b1.seeds, defaults.saf.window, 16));
    }
    if (wanted('B3') || wanted('B4')) await step('B3+B4', () => processRuns(work));
    if (wanted('B5')) await step('B5', () => printing(work));
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
  process.stdout.write(`\n${renderTable(figures)}\n\nall five in ${seconds} s; results in test/bench/results.json\n`);
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
