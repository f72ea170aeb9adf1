import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../firmware-app/config/load.js';

/**
 * Fuzzing the configuration loader: whatever the file holds and whatever POS_* variables
 * are set, the result is a validated configuration or a ConfigError (CONFIG_INVALID) that
 * names the problem, never another exception.
 */

const dir = mkdtempSync(join(tmpdir(), 'pos-fuzz-cfg-'));
let n = 0;
function file(content: string): string {
  const p = join(dir, `c${++n}.json`);
  writeFileSync(p, content);
  return p;
}

/** Runs the loader and says which of the two allowed outcomes it had. */
function outcome(options: { file?: string; env?: NodeJS.ProcessEnv }): 'config' | 'config-error' {
  try {
    const c = loadConfig(options);
    expect(typeof c.terminal.id).toBe('string');
    return 'config';
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).code).toBe('CONFIG_INVALID');
    expect((err as ConfigError).message.length).toBeGreaterThan(0);
    return 'config-error';
  }
}

const SECTIONS = ['terminal', 'reader', 'printer', 'host', 'log', 'offline', 'saf', 'tms', 'alerts', 'jobs', 'diagnostics'];
const KEYS = [
  'id',
  'path',
  'port',
  'responseTimeoutMs',
  'level',
  'floorLimit',
  'window',
  'url',
  'currency',
  'maxAmount',
  'entryModes',
  'cron',
  'pinHash',
  '__proto__',
  'constructor',
];

/** Objects shaped like a configuration, with wrong, odd and right values at known keys. */
const nearConfig = fc.dictionary(
  fc.oneof(fc.constantFrom(...SECTIONS, 'dataDir', 'sim', '__proto__'), fc.string({ maxLength: 8 })),
  fc.oneof(
    fc.dictionary(fc.oneof(fc.constantFrom(...KEYS), fc.string({ maxLength: 8 })), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 6 }),
    fc.jsonValue({ maxDepth: 2 }),
  ),
  { maxKeys: 6 },
);

const envName = fc
  .tuple(
    fc.constantFrom(...SECTIONS.map((s) => s.toUpperCase()), 'DATA', 'HOST_RESPONSE', 'X'),
    fc.constantFrom('', '_ID', '_PORT', '_RESPONSE_TIMEOUT_MS', '_LEVEL', '_FLOOR_LIMIT', '_ENTRY_MODES', '_URL', '_NOPE', '_'),
  )
  .map(([a, b]) => `POS_${a}${b}`);
const envValue = fc.oneof(
  fc.string({ maxLength: 30 }),
  fc.integer().map(String),
  fc.jsonValue({ maxDepth: 2 }).map((v) => JSON.stringify(v)),
  fc.constantFrom('true', 'false', '[', '{', ' 5000 ', '-1', '1e400'),
);

describe('configuration loader under arbitrary input', () => {
  it('arbitrary file content: a configuration or a ConfigError', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string({ unit: 'binary', maxLength: 300 }),
          fc.jsonValue({ maxDepth: 6 }).map((v) => JSON.stringify(v)),
        ),
        (text) => {
          expect(['config', 'config-error']).toContain(outcome({ file: file(text) }));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('configuration-shaped objects with odd values: a configuration or a ConfigError naming the field', () => {
    let errors = 0;
    fc.assert(
      fc.property(nearConfig, (obj) => {
        const p = file(JSON.stringify(obj));
        if (outcome({ file: p }) === 'config-error') errors++;
      }),
      { numRuns: 500 },
    );
    expect(errors).toBeGreaterThan(0);
  });

  it('arbitrary POS_* environment overrides: a configuration or a ConfigError', () => {
    let accepted = 0;
    fc.assert(
      fc.property(fc.dictionary(envName, envValue, { maxKeys: 5 }), (env) => {
        if (outcome({ env }) === 'config') accepted++;
      }),
      { numRuns: 500 },
    );
    expect(accepted).toBeGreaterThan(0);
  });

  it('nesting up to a thousand levels and a multi-megabyte file are refused as ConfigError, promptly', () => {
    for (const depth of [10, 100, 1000]) {
      expect(outcome({ file: file(`${'{"x":'.repeat(depth)}1${'}'.repeat(depth)}`) })).toBe('config-error');
      expect(outcome({ file: file(`{"host":${'['.repeat(depth)}${']'.repeat(depth)}}`) })).toBe('config-error');
    }
    const big = JSON.stringify({ terminal: { merchantName: 'x'.repeat(4 * 1024 * 1024) } });
    expect(outcome({ file: file(big) })).toBe('config-error');
  });
});
