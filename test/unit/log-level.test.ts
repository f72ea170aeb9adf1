import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { LogLevel } from '../../drivers/base/logger.js';
import { createLogger } from '../../firmware-app/logging/logger.js';

function setup(level: LogLevel) {
  const file = join(mkdtempSync(join(tmpdir(), 'pos-loglevel-')), 'pos.log');
  const root = createLogger({ level, destination: { file, maxBytes: 1 << 20, maxFiles: 1 } });
  const lines = () =>
    readFileSync(file, 'utf8')
      .trimEnd()
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l) as { msg: string; level: number; component?: string });
  return { root, lines };
}

describe('log level at run time', () => {
  it('reaches children created before the change, so a technician can turn on debug without a restart', () => {
    const { root, lines } = setup('info');
    const host = root.child('host');
    host.debug('hidden');
    root.setLevel('debug');
    host.debug('now visible');
    host.child('iso8583').trace('still hidden');
    expect(root.level).toBe('debug');
    expect(lines().map((l) => l.msg)).toEqual(['now visible']);
    expect(lines()[0]).toMatchObject({ component: 'host', level: 20 });
  });

  it('changes the whole process from any logger, and silent stops everything', () => {
    const { root, lines } = setup('debug');
    const saf = root.child('saf');
    saf.setLevel('warn');
    root.info('dropped');
    saf.warn('kept');
    root.setLevel('silent');
    root.fatal('dropped too');
    expect(lines().map((l) => l.msg)).toEqual(['kept']);
    expect(root.level).toBe('silent');
  });

  it('rejects a level that does not exist instead of silently logging nothing', () => {
    const { root } = setup('info');
    expect(() => root.setLevel('verbose' as LogLevel)).toThrow(RangeError);
    expect(root.level).toBe('info');
  });

  it('still scrubs card-like data after the level changed', () => {
    const { root, lines } = setup('info');
    root.setLevel('trace');
    root.child('reader').trace({ pan: '4111111111111111' }, 'card 4111 1111 1111 1111 read');
    const text = JSON.stringify(lines());
    expect(text).not.toContain('4111111111111111');
    expect(text).not.toContain('4111 1111 1111 1111');
  });
});
