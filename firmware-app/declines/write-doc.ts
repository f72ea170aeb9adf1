import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { renderDeclineCodesDoc } from './doc-table.js';

/** `npm run docs:declines`: rewrites docs/decline-codes.md from the catalog. Run from dist/. */
const target = join(resolve(import.meta.dirname, '..', '..', '..'), 'docs', 'decline-codes.md');
writeFileSync(target, renderDeclineCodesDoc());
process.stdout.write(`wrote ${target}\n`);
