import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MAIN, REPO } from '../support/terminal-process.js';

const mode = (path: string) => (statSync(path).mode & 0o777).toString(8);

describe('private files whatever the umask', () => {
  it('creates the data folder 0700 and the database and log 0600 under umask 000', async () => {
    const root = mkdtempSync(join(tmpdir(), 'pos-umask-'));
    const dataDir = join(root, 'state', 'pos-companion');
    const configPath = join(root, 'config.json');
    writeFileSync(configPath, JSON.stringify({ dataDir, sim: true, log: { target: 'file', level: 'info' } }));
    // The shell sets the loosest umask, then becomes the terminal process.
    const child = spawn('sh', ['-c', 'umask 000 && exec "$0" "$@"', process.execPath, MAIN, '--config', configPath], {
      cwd: REPO,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    const deadline = Date.now() + 60_000;
    while (!out.includes('pos-companion ready') && child.exitCode === null && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 50));
    expect(out).toContain('pos-companion ready');
    child.stdin.write('q\n');
    expect(await exited).toBe(0);

    expect(mode(dataDir)).toBe('700');
    expect(mode(join(root, 'state'))).toBe('700');
    const files = readdirSync(dataDir).filter((f) => !f.endsWith('.sock'));
    expect(files).toEqual(expect.arrayContaining(['pos-companion.db', 'pos-companion.log', 'counters-high-water.json']));
    for (const f of files) {
      const p = join(dataDir, f);
      if (statSync(p).isDirectory()) expect(mode(p), f).toBe('700');
      else expect(mode(p), f).toBe('600');
    }
  }, 90_000);
});
