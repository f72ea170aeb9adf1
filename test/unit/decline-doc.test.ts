import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CATALOG } from '../../firmware-app/declines/catalog.js';
import { renderDeclineCodesDoc } from '../../firmware-app/declines/doc-table.js';
import { REPO } from '../support/terminal-process.js';

describe('docs/decline-codes.md', () => {
  it('is the catalog as generated now (run `npm run docs:declines` after changing the catalog)', () => {
    const committed = readFileSync(join(REPO, 'docs', 'decline-codes.md'), 'utf8');
    expect(committed).toBe(renderDeclineCodesDoc());
  });

  it('has one row per catalog code, with both languages', () => {
    const doc = renderDeclineCodesDoc();
    for (const [code, e] of Object.entries(CATALOG)) {
      const row = doc.split('\n').find((l) => l.startsWith(`| \`${code}\` |`));
      expect(row, code).toBeDefined();
      expect(row).toContain(e.cashier['zh-CN']);
      expect(row).toContain(e.cashier.en);
    }
  });
});
