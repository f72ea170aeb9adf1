import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, applyEnvOverrides, loadConfig } from '../../firmware-app/config/load.js';

function file(content: string): string {
  const p = join(mkdtempSync(join(tmpdir(), 'pos-cfg-')), 'config.json');
  writeFileSync(p, content);
  return p;
}

describe('configuration', () => {
  it('has defaults that run against the simulator', () => {
    const c = loadConfig({});
    expect(c.terminal.id).toBe('TERM0001');
    expect(c.terminal.currency).toBe('CNY');
    expect(c.host.responseTimeoutMs).toBe(30_000);
    expect(c.reader.path).toBe('');
    expect(c.printer.widthMm).toBe(58);
  });

  it('reads a file and applies POS_* environment overrides on top', () => {
    const p = file(JSON.stringify({ host: { port: 9000 }, terminal: { merchantName: 'Tea House' } }));
    const c = loadConfig({
      file: p,
      env: { POS_HOST_RESPONSE_TIMEOUT_MS: '5000', POS_TERMINAL_ID: 'TERM0042', POS_READER_PATH: '/dev/ttyUSB0', HOME: '/root' },
    });
    expect(c.host.port).toBe(9000);
    expect(c.host.responseTimeoutMs).toBe(5000);
    expect(c.terminal.id).toBe('TERM0042');
    expect(c.terminal.merchantName).toBe('Tea House');
    expect(c.reader.path).toBe('/dev/ttyUSB0');
  });

  it('names the field and the problem when the file is invalid', () => {
    const p = file(JSON.stringify({ terminal: { id: 'TOO-LONG-ID' }, host: { port: 'ninety' } }));
    let err: unknown;
    try {
      loadConfig({ file: p });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toMatch(/terminal\.id: must be exactly 8 printable ASCII characters/);
    expect((err as Error).message).toMatch(/host\.port/);
  });

  it('rejects unknown keys, broken JSON, a missing file and a mistyped environment variable', () => {
    expect(() => loadConfig({ file: file('{"hots": {}}') })).toThrow(/hots/);
    expect(() => loadConfig({ file: file('{ not json') })).toThrow(/not valid JSON/);
    expect(() => loadConfig({ file: '/nonexistent/pos.json' })).toThrow(/cannot read configuration file/);
    expect(() => applyEnvOverrides({}, { POS_HOST_RESPONSE_TIMOUT_MS: '1' })).toThrow(/does not name a configuration key/);
  });

  it('rejects an unknown key nested in a section: a typo in an offline limit must not fall back to the default', () => {
    expect(() => loadConfig({ file: file(JSON.stringify({ offline: { floorLimt: 100 } })) })).toThrow(
      expect.objectContaining({ code: 'CONFIG_INVALID', message: 'invalid configuration: offline.floorLimt: unknown key' }),
    );
    expect(() => loadConfig({ file: file(JSON.stringify({ jobs: { settlement: { corn: '0 1 * * *' } } })) })).toThrow(
      /jobs\.settlement\.corn: unknown key/,
    );
    expect(loadConfig({ file: file(JSON.stringify({ offline: { floorLimit: 100 } })) }).offline.floorLimit).toBe(100);
  });
});

describe('hostile configuration files', () => {
  it('refuses absurd nesting with a ConfigError instead of overflowing the stack', () => {
    const deep = '{"a":'.repeat(20_000) + '1' + '}'.repeat(20_000);
    expect(() => loadConfig({ file: file(deep) })).toThrow(/nested deeper than 32 levels/);
  });
});
