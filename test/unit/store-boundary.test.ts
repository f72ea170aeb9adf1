import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * SQL has one home: `firmware-app/store/`. A statement written anywhere else is a rule with a
 * second owner (a list of states, a retention, a transaction boundary) that the repositories
 * and their tests cannot see. The handle itself goes no further than the composition root:
 * every other module is given the `Store` or its repositories, so a transaction boundary is
 * always `store.tx`.
 */
const ROOT = resolve(import.meta.dirname, '..', '..');
const APP = join(ROOT, 'firmware-app');

/** Where the handle may pass: the composition root, which opens it and builds the `Store`. */
const HANDLE_HOLDERS = ['compose.ts'];

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sources(path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

const outsideStore = sources(APP)
  .map((file) => ({ name: relative(APP, file), text: readFileSync(file, 'utf8') }))
  .filter((f) => !f.name.startsWith('store/'));

describe('the store layer owns the database', () => {
  it('finds the product modules to check', () => {
    expect(outsideStore.map((f) => f.name)).toEqual(
      expect.arrayContaining(['terminal.ts', 'payments/journal.ts', 'settlement/settlement.ts']),
    );
  });

  it('prepares no statement outside store/', () => {
    expect(outsideStore.filter((f) => /\.prepare\b/.test(f.text)).map((f) => f.name)).toEqual([]);
  });

  it('hands the database itself to no module but the composition root', () => {
    const holding = outsideStore
      .filter(
        (f) =>
          /from 'better-sqlite3'/.test(f.text) ||
          /\bopenDatabase\s*\(/.test(f.text) ||
          (/from '[./]*store\/db\.js'/.test(f.text) && /\bDb\b/.test(f.text)),
      )
      .map((f) => f.name);
    expect(holding.filter((name) => !HANDLE_HOLDERS.includes(name))).toEqual([]);
  });
});
