import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { unsupportedRuntime } from '../../firmware-app/runtime-check.js';
import { REPO } from '../support/terminal-process.js';

describe('supported runtime', () => {
  it('refuses Node 20 (past its end of life) and early Node 22, with what to install instead', () => {
    expect(unsupportedRuntime('v20.20.2')).toBe(
      'Node.js v20.20.2 is not supported; install Node.js 24 LTS or 22.12 and later (README "Runtime")',
    );
    expect(unsupportedRuntime('22.11.0')).toMatch(/not supported/);
    expect(unsupportedRuntime('23.11.0')).toMatch(/not supported/);
  });

  it('accepts Node 22.12 and later and Node 24, as package.json engines promises', () => {
    for (const v of ['22.12.0', 'v22.23.3', '24.0.0', 'v24.21.0', '26.1.0']) expect(unsupportedRuntime(v)).toBeUndefined();
    expect(JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8'))).toMatchObject({ engines: { node: '^22.12.0 || >=24.0.0' } });
  });

  it('is what the entry point evaluates first, before any module that loads a native addon', () => {
    const main = readFileSync(join(REPO, 'firmware-app', 'main.ts'), 'utf8');
    const firstImport = main.split('\n').find((line) => line.startsWith('import '));
    expect(firstImport).toBe("import './runtime-check.js';");
  });
});
