import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * A simulator is a peer written from the protocol documents (docs/protocols): if it shared
 * the product's codecs, both sides would be wrong in the same way and no test could see
 * it. So no simulator (reader, printer, host, TMS, keys) imports anything from the product.
 */
const ROOT = resolve(import.meta.dirname, '..', '..');
const SIM = join(ROOT, 'sim');

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sources(path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

function productImports(file: string): string[] {
  const specifiers = [...readFileSync(file, 'utf8').matchAll(/^\s*(?:import|export)\b[^'"]*?from\s+'([^']+)'/gm)].map((m) => m[1]!);
  return specifiers
    .filter((s) => s.startsWith('.'))
    .map((s) => relative(ROOT, resolve(dirname(file), s)))
    .filter((target) => target.startsWith('drivers') || target.startsWith('firmware-app'));
}

describe('simulators are independent peers', () => {
  const files = sources(SIM);

  it('finds the reader, printer, host and crypto simulators to check', () => {
    const names = files.map((f) => relative(SIM, f));
    expect(names).toEqual(
      expect.arrayContaining([
        'reader/reader-sim.ts',
        'printer/printer-sim.ts',
        'host/host-sim.ts',
        'host/codec.ts',
        'crypto/dukpt.ts',
        'pty.ts',
      ]),
    );
  });

  it.each(files.map((f) => [relative(ROOT, f), f] as const))('%s imports nothing from drivers/ or firmware-app/', (_name, file) => {
    expect(productImports(file)).toEqual([]);
  });
});
