import { execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO } from '../support/terminal-process.js';

function socatChildrenOf(pid: number): string[] {
  try {
    return execFileSync('pgrep', ['-P', String(pid), 'socat'], { encoding: 'utf8' })
      .trim()
      .split('\n')
      .filter(Boolean);
  } catch {
    return [];
  }
}

describe('npm run sim', () => {
  it('prints where the devices are, serves them, and stops cleanly with no stray socat', async () => {
    const child = spawn(process.execPath, [join(REPO, 'dist', 'sim', 'cli.js'), '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    const deadline = Date.now() + 10_000;
    while (!out.includes('\n') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    const ep = JSON.parse(out.split('\n')[0]!) as { readerPath: string; printerPath: string; hostPort: number };
    expect(existsSync(ep.readerPath)).toBe(true);
    expect(existsSync(ep.printerPath)).toBe(true);
    expect(ep.hostPort).toBeGreaterThan(0);
    expect(socatChildrenOf(child.pid!)).toHaveLength(2);

    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    child.kill('SIGINT');
    expect(await exited).toBe(0);
    expect(existsSync(ep.readerPath)).toBe(false);
    expect(existsSync(ep.printerPath)).toBe(false);
    expect(execFileSync('ps', ['-eo', 'args'], { encoding: 'utf8' })).not.toContain(ep.readerPath);
  });
});
