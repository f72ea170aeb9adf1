import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseFrame } from '../../drivers/card-reader/frame.js';

const DOC = readFileSync(join(import.meta.dirname, '..', '..', 'docs', 'protocols', 'card-reader.md'), 'utf8');

/** Every `> $...` / `< $...` example line of the protocol document, as written there. */
const examples = [...DOC.matchAll(/^[<>] +(\$\S+)/gm)].map((m) => m[1]!);

describe('docs/protocols/card-reader.md', () => {
  it('has examples for every command and event', () => {
    const commands = new Set(examples.map((l) => parseFrame(l).command));
    for (const c of ['INFO', 'STATUS', 'READ', 'PIN', 'CANCEL', 'DISPLAY', 'BEEP', 'RESET', 'NAK', 'EVENT']) expect(commands).toContain(c);
  });

  it.each(examples)('example %s is a well-formed frame with its correct checksum', (line) => {
    expect(() => parseFrame(line)).not.toThrow();
  });
});
