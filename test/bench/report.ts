/** One line of the bench report: a measured figure, its target, and the floor it is compared to. */
export interface Figure {
  id: string;
  name: string;
  value: number;
  unit: string;
  /** The target in words, e.g. "<= 2x floor". */
  target: string;
  /** Judged on the median (p50) wherever the figure is a distribution; null when informational. */
  met: boolean | null;
  /** What the figure is compared to: the floor it can never beat, measured in the same run, and the p99 beside the p50. */
  limit: string;
  /** The same figure on a disk whose fsync costs 5 ms, as a terminal's eMMC does ("-" when fsyncs play no part). */
  at5ms: string;
}

/** The fsync cost a terminal's eMMC has, against which every figure is projected. */
export const TERMINAL_FSYNC_MS = 5;

/**
 * A time measured here, moved to a disk whose fsync costs 5 ms: the `fsyncs` it waited
 * for are taken out at this disk's cost and put back at the terminal's.
 */
export function at5msFsync(measuredMs: number, fsyncs: number, fsyncMs: number): number {
  return Math.max(0, measuredMs - fsyncs * fsyncMs) + fsyncs * TERMINAL_FSYNC_MS;
}

function cell(text: string, width: number): string {
  return text.length >= width ? text : text + ' '.repeat(width - text.length);
}

function formatValue(f: Figure): string {
  if (Number.isNaN(f.value)) return 'not measured';
  const v = Math.abs(f.value) >= 100 ? f.value.toFixed(0) : Math.abs(f.value) >= 10 ? f.value.toFixed(1) : f.value.toFixed(2);
  return `${v} ${f.unit}`.trim();
}

/** The table `npm run bench` prints. */
export function renderTable(figures: readonly Figure[]): string {
  const rows = figures.map((f) => [
    f.id,
    f.name,
    formatValue(f),
    f.target,
    f.met === null ? '-' : f.met ? 'met' : 'MISSED',
    f.at5ms,
    f.limit,
  ]);
  const header = ['id', 'figure', 'measured', 'target', 'result', 'at 5 ms fsync', 'compared to (same run)'];
  const last = header.length - 1;
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (i === last ? 0 : r[i]!.length))));
  const line = (r: string[]) => r.map((c, i) => (i === last ? c : cell(c, widths[i]!))).join('  ');
  return [line(header), line(header.map((h, i) => '-'.repeat(i === last ? h.length : widths[i]!))), ...rows.map(line)].join('\n');
}
