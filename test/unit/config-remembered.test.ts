import { chmodSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../firmware-app/config/load.js';
import { loadConfigRemembered } from '../../firmware-app/config/validated-cache.js';

function setUp(config: Record<string, unknown>) {
  const dir = mkdtempSync(join(tmpdir(), 'pos-config-remembered-'));
  const file = join(dir, 'config.json');
  writeFileSync(file, JSON.stringify(config));
  return { file, cacheDir: join(dir, 'cache') };
}

const VALID = { dataDir: '/var/lib/pos-companion', terminal: { currency: 'EUR' }, jobs: { timezone: 'Europe/Berlin' } };

describe('the last validated configuration, remembered between starts', () => {
  it('gives the same configuration as a full validation, on the first start and on the next', async () => {
    const { file, cacheDir } = setUp(VALID);
    const env = { POS_HOST_RESPONSE_TIMEOUT_MS: '5000' };
    const full = loadConfig({ file, env });
    expect(await loadConfigRemembered({ file, env, cacheDir })).toStrictEqual(full);
    expect(await loadConfigRemembered({ file, env, cacheDir })).toStrictEqual(full);
    expect(full.host.responseTimeoutMs).toBe(5000);
  });

  it('validates in full again when the file changes, with the error a technician would see anyway', async () => {
    const { file, cacheDir } = setUp(VALID);
    await loadConfigRemembered({ file, env: {}, cacheDir });
    writeFileSync(file, JSON.stringify({ ...VALID, offline: { floorLimt: 100 } }));
    await expect(loadConfigRemembered({ file, env: {}, cacheDir })).rejects.toThrow(
      'invalid configuration: offline.floorLimt: unknown key',
    );
    writeFileSync(file, '{ not json');
    await expect(loadConfigRemembered({ file, env: {}, cacheDir })).rejects.toThrow(/is not valid JSON/);
  });

  it('validates in full again when a POS_ variable changes', async () => {
    const { file, cacheDir } = setUp(VALID);
    await loadConfigRemembered({ file, env: {}, cacheDir });
    await expect(loadConfigRemembered({ file, env: { POS_HOST_RESPONSE_TIMEOUT_MS: '-1' }, cacheDir })).rejects.toThrow(
      /host\.responseTimeoutMs/,
    );
    await expect(loadConfigRemembered({ file, env: { POS_HOST_RESPONSE_TIMOUT_MS: '1' }, cacheDir })).rejects.toThrow(
      'environment variable POS_HOST_RESPONSE_TIMOUT_MS does not name a configuration key',
    );
    const changed = await loadConfigRemembered({ file, env: { POS_HOST_RESPONSE_TIMEOUT_MS: '7000' }, cacheDir });
    expect(changed.host.responseTimeoutMs).toBe(7000);
  });

  it('keeps the remembered configuration readable by the service user only', async () => {
    const { file, cacheDir } = setUp(VALID);
    await loadConfigRemembered({ file, env: {}, cacheDir });
    expect(statSync(join(cacheDir, 'validated-config.json')).mode & 0o777).toBe(0o600);
    expect(statSync(cacheDir).mode & 0o777).toBe(0o700);
  });

  it('ignores a damaged or unwritable cache: the configuration still loads', async () => {
    const { file, cacheDir } = setUp(VALID);
    await loadConfigRemembered({ file, env: {}, cacheDir });
    writeFileSync(join(cacheDir, 'validated-config.json'), readFileSync(join(cacheDir, 'validated-config.json'), 'utf8').slice(0, 40));
    expect(await loadConfigRemembered({ file, env: {}, cacheDir })).toStrictEqual(loadConfig({ file, env: {} }));
    const blocked = join(mkdtempSync(join(tmpdir(), 'pos-config-remembered-')), 'a-file');
    writeFileSync(blocked, 'not a folder');
    expect(await loadConfigRemembered({ file, env: {}, cacheDir: join(blocked, 'cache') })).toStrictEqual(loadConfig({ file, env: {} }));
  });

  it('does not take a remembered configuration that others could have written', async () => {
    const { file, cacheDir } = setUp(VALID);
    await loadConfigRemembered({ file, env: {}, cacheDir });
    const remembered = join(cacheDir, 'validated-config.json');
    const entry = JSON.parse(readFileSync(remembered, 'utf8')) as { config: { host: { address: string } } };
    entry.config.host.address = '203.0.113.9';
    writeFileSync(remembered, JSON.stringify(entry));
    chmodSync(remembered, 0o666);
    const config = await loadConfigRemembered({ file, env: {}, cacheDir });
    expect(config).toStrictEqual(loadConfig({ file, env: {} }));
    expect(config.host.address).not.toBe('203.0.113.9');
  });
});
