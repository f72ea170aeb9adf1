/**
 * Column arithmetic for receipts. Receipts are printed in Chinese mode, where the printer
 * draws every non-ASCII character from its 24-dot double-byte font: two columns, whatever
 * Unicode says about the character's width. ASCII takes one column.
 */
export function charColumns(ch: string): 1 | 2 {
  return (ch.codePointAt(0) ?? 0) < 0x80 ? 1 : 2;
}

export function displayWidth(s: string): number {
  let width = 0;
  for (const ch of s) width += charColumns(ch);
  return width;
}

/** Break opportunities: runs of spaces, ASCII words, and every single non-ASCII character. */
const TOKENS = / +|[\x00-\x1f\x21-\x7f]+|[^\x00-\x7f]/gu;

/**
 * Wraps text to `columns`, preferring to break at spaces and between CJK characters, never
 * inside a double-width character: when one column is left, the character starts the next
 * line. An ASCII word longer than a line is broken where it overflows.
 */
export function wrap(text: string, columns: number): string[] {
  const out: string[] = [];
  for (const paragraph of text.split('\n')) {
    let line = '';
    let width = 0;
    let space = false;
    const flush = () => {
      out.push(line);
      line = '';
      width = 0;
    };
    for (const token of paragraph.match(TOKENS) ?? []) {
      if (token.startsWith(' ')) {
        space = width > 0;
        continue;
      }
      const w = displayWidth(token);
      const sep = space ? 1 : 0;
      space = false;
      if (width + sep + w <= columns) {
        line += (sep ? ' ' : '') + token;
        width += sep + w;
        continue;
      }
      if (width > 0) flush();
      if (w <= columns) {
        line = token;
        width = w;
        continue;
      }
      for (const ch of token) {
        const cw = charColumns(ch);
        if (width + cw > columns) flush();
        line += ch;
        width += cw;
      }
    }
    flush();
  }
  return out;
}

/** Pads on the left so the text ends at the right margin. */
export function alignRight(text: string, columns: number): string {
  return ' '.repeat(Math.max(0, columns - displayWidth(text))) + text;
}

/**
 * "LABEL          value" on one line when both fit with a space between; otherwise the label
 * on its own line and the value wrapped and right-aligned under it.
 */
export function labelled(label: string, value: string, columns: number): string[] {
  const gap = columns - displayWidth(label) - displayWidth(value);
  if (gap >= 1) return [label + ' '.repeat(gap) + value];
  return [...wrap(label, columns), ...wrap(value, columns).map((l) => alignRight(l, columns))];
}
