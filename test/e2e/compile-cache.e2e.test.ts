import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Simulator } from '../../sim/index.js';
import { TerminalProcess, writeSimConfig } from '../support/terminal-process.js';

/** The ready log line's compile-cache field, from the terminal's log file. */
function readyCacheState(dataDir: string): string {
  const ready = readFileSync(join(dataDir, 'pos-companion.log'), 'utf8')
    .split('\n')
    .filter((l) => l.includes('"terminal ready"'))
    .at(-1);
  return (JSON.parse(ready ?? '{}') as { compileCache?: string }).compileCache ?? 'no ready line';
}

/** The on-disk compile cache: kept in the folder the service names, and never a reason not to start. */
describe('compile cache', () => {
  let sim: Simulator | undefined;
  let terminal: TerminalProcess | undefined;

  afterEach(async () => {
    if (terminal && terminal.child.exitCode === null) await terminal.kill();
    await sim?.stop();
  });

  it('is created in the folder NODE_COMPILE_CACHE names and used by the next start', async () => {
    sim = await Simulator.start();
    const { configPath, dataDir } = writeSimConfig(sim);
    const cacheDir = join(mkdtempSync(join(tmpdir(), 'pos-cache-')), 'not', 'yet', 'there');
    for (let start = 0; start < 2; start++) {
      terminal = new TerminalProcess(['--config', configPath], { NODE_COMPILE_CACHE: cacheDir });
      await terminal.waitFor(/pos-companion ready/);
      terminal.type('q');
      expect(await terminal.exit()).toBe(0);
      expect(readyCacheState(dataDir)).toBe(`on in ${cacheDir}`);
    }
    expect(readdirSync(cacheDir, { recursive: true }).length).toBeGreaterThan(0);
  });

  it('that cannot be created costs only the speed-up: the terminal still starts and sells', async () => {
    sim = await Simulator.start();
    const { configPath, dataDir } = writeSimConfig(sim);
    const file = join(mkdtempSync(join(tmpdir(), 'pos-cache-')), 'a-file');
    writeFileSync(file, 'not a folder');
    terminal = new TerminalProcess(['--config', configPath], { NODE_COMPILE_CACHE: join(file, 'cache') });
    await terminal.waitFor(/pos-companion ready/);
    terminal.type('3.00');
    await terminal.waitFor(/APPROVED auth/);
    terminal.type('q');
    expect(await terminal.exit()).toBe(0);
    expect(readyCacheState(dataDir)).toMatch(/^not available/);
    expect(existsSync(join(file, 'cache'))).toBe(false);
  });

  it('is off when NODE_DISABLE_COMPILE_CACHE is set', async () => {
    sim = await Simulator.start();
    const { configPath, dataDir } = writeSimConfig(sim);
    terminal = new TerminalProcess(['--config', configPath], { NODE_DISABLE_COMPILE_CACHE: '1' });
    await terminal.waitFor(/pos-companion ready/);
    terminal.type('q');
    expect(await terminal.exit()).toBe(0);
    expect(readyCacheState(dataDir)).toBe('off');
  });
});
