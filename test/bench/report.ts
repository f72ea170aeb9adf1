/** One line of the bench report: a measured figure, its target, and the limit it is compared to. */
export interface Figure {
  id: string;
  name: string;
  value: number;
  unit: string;
  /** The target in words, e.g. "<= 3". */
  target: string;
  met: boolean | null;
  /** What the figure is compared to: the physical limit it can never beat, measured in the same run where possible. */
  limit: string;
}

function cell(text: string, width: number): string {
  return text.length >= width ? text : text + ' '.repeat(width - text.length);
}

function formatValue(f: Figure): string {
  const v = Math.abs(f.value) >= 100 ? f.value.toFixed(0) : Math.abs(f.value) >= 10 ? f.value.toFixed(1) : f.value.toFixed(2);
  return `${v} ${f.unit}`.trim();
}

/** The table `npm run bench` prints. */
export function renderTable(figures: readonly Figure[]): string {
  const rows = figures.map((f) => [f.id, f.name, formatValue(f), f.target, f.met === null ? '-' : f.met ? 'met' : 'MISSED', f.limit]);
  const header = ['id', 'figure', 'measured', 'target', 'result', 'compared to'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (i === 5 ? 0 : r[i]!.length))));
  const line = (r: string[]) => r.map((c, i) => (i === 5 ? c : cell(c, widths[i]!))).join('  ');
  return [line(header), line(header.map((h, i) => '-'.repeat(i === 5 ? h.length : widths[i]!))), ...rows.map(line)].join('\n');
}
