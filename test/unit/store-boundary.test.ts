import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * SQL has one home: `firmware-app/store/`. A statement written anywhere else is a rule with a
 * second owner (a list of states, a retention, a transaction boundary) that the repositories
 * and their tests cannot see. The queue modules below still hold the handle until the shared
 * durable queue's repositories replace their SQL; the list may only shrink.
 */
const ROOT = resolve(import.meta.dirname, '..', '..');
const APP = join(ROOT, 'firmware-app');

const QUEUE_MODULES = [
  'jobs/retention.ts',
  'printing/queue.ts',
  'reversals/manager.ts',
  'saf/forwarder.ts',
  'saf/queue.ts',
  'upstream/flusher.ts',
  'upstream/outbox.ts',
];

/** Where the handle may still pass: the composition root, and the queue modules' own plumbing. */
const HANDLE_HOLDERS = [...QUEUE_MODULES, 'compose.ts', 'alerts/alerts.ts', 'jobs/catalog.ts'];

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

  it('prepares no statement outside store/ but in the queue modules', () => {
    const preparing = outsideStore.filter((f) => /\.prepare\b/.test(f.text)).map((f) => f.name);
    expect(preparing.filter((name) => !QUEUE_MODULES.includes(name))).toEqual([]);
  });

  it('hands the database itself to no module but the composition root and the queue modules', () => {
    const holding = outsideStore
      .filter((f) => /from '[./]*store\/db\.js'|from 'better-sqlite3'/.test(f.text) && /\bDb\b|Database/.test(f.text))
      .map((f) => f.name);
    expect(holding.filter((name) => !HANDLE_HOLDERS.includes(name))).toEqual([]);
  });
});
