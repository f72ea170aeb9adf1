import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { chmodSync, mkdirSync, mkdtempSync } from 'node:fs';
import { compileCacheDir, privateDir } from '../../firmware-app/compile-cache.js';

describe('where the compile cache lives', () => {
  it('is the folder NODE_COMPILE_CACHE names, before the service cache folder', () => {
    expect(compileCacheDir({ NODE_COMPILE_CACHE: '/data/cc', CACHE_DIRECTORY: '/var/cache/pos-companion' })).toBe('/data/cc');
  });

  it('is under the service cache folder systemd gives the unit (CacheDirectory=)', () => {
    expect(compileCacheDir({ CACHE_DIRECTORY: '/var/cache/pos-companion' })).toBe('/var/cache/pos-companion/compile');
    expect(compileCacheDir({ CACHE_DIRECTORY: '/var/cache/pos-companion:/var/cache/other' })).toBe('/var/cache/pos-companion/compile');
  });

  it('is in the temporary folder without either, and nowhere when switched off', () => {
    expect(compileCacheDir({})).toBe(join(tmpdir(), 'pos-companion-cache', 'compile'));
    expect(compileCacheDir({ NODE_DISABLE_COMPILE_CACHE: '1', CACHE_DIRECTORY: '/var/cache/pos-companion' })).toBeUndefined();
  });
});

describe('a cache folder the terminal trusts', () => {
  it('is created private (0700) and accepted', () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'pos-cache-')), 'cache', 'compile');
    expect(privateDir(dir)).toBe(true);
  });

  it('is refused when another account could write it or its parent', () => {
    const open = join(mkdtempSync(join(tmpdir(), 'pos-cache-')), 'shared');
    mkdirSync(open);
    chmodSync(open, 0o777);
    expect(privateDir(open)).toBe(false);
    expect(privateDir(join(open, 'compile'))).toBe(false);
  });
});
