import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Simulator } from '../../sim/index.js';
import { REPO, TerminalProcess, writeSimConfig } from '../support/terminal-process.js';

/**
 * The product as a technician installs it: built from clean sources, packed, installed from
 * the tarball into an empty folder (production dependencies only), and run from there with
 * node alone against the simulator.
 */
describe('pack, install and run the installed package', () => {
  const work = mkdtempSync(join(tmpdir(), 'pos-pack-'));
  const installDir = join(work, 'install');
  const installed = join(installDir, 'node_modules', 'pos-companion');
  const bin = join(installDir, 'node_modules', '.bin', 'pos-companion');
  let tarball: string;
  let entries: string[];
  let sim: Simulator;

  beforeAll(() => {
    // A clean copy, so the package is built from sources alone (no stale dist/ files) and the
    // build does not rewrite the dist/ other tests are running from.
    const src = join(work, 'src');
    mkdirSync(src);
    for (const item of [
      'package.json',
      'package-lock.json',
      'tsconfig.json',
      'README.md',
      'LICENSE',
      'firmware-app',
      'drivers',
      'sim',
      'test',
      'docs',
    ]) {
      cpSync(join(REPO, item), join(src, item), { recursive: true });
    }
    symlinkSync(join(REPO, 'node_modules'), join(src, 'node_modules'), 'dir');

    const packed = execFileSync('npm', ['pack', '--json', '--pack-destination', work], {
      cwd: src,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const info = (JSON.parse(packed) as { filename: string; files: { path: string }[] }[])[0]!;
    tarball = join(work, info.filename);
    entries = info.files.map((f) => f.path);

    mkdirSync(installDir);
    writeFileSync(join(installDir, 'package.json'), JSON.stringify({ name: 'terminal-install', private: true }));
    execFileSync('npm', ['install', '--omit=dev', '--no-audit', '--no-fund', tarball], {
      cwd: installDir,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  }, 600_000);

  afterAll(async () => {
    await sim?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  it('ships the built product and its deployment files, not tests, sources or tooling', () => {
    expect(entries).toEqual(
      expect.arrayContaining([
        'package.json',
        'README.md',
        'LICENSE',
        'dist/firmware-app/main.js',
        'dist/sim/index.js',
        'docs/deploy/pos-companion.service',
        'docs/deploy/99-pos-companion.rules',
        'docs/deploy/config.example.jsonc',
        'docs/deploy/pos-companion.sysusers.conf',
        'docs/configuration.md',
        'docs/operations.md',
      ]),
    );
    expect(entries.filter((e) => e.startsWith('dist/test/') || e.startsWith('test/'))).toEqual([]);
    expect(entries.filter((e) => e.endsWith('.ts') || e.endsWith('.map'))).toEqual([]);
    expect(entries).not.toContain('dist/firmware-app/config/reference.js');
  });

  it('installs with production dependencies only', () => {
    expect(existsSync(join(installDir, 'node_modules', 'better-sqlite3'))).toBe(true);
    for (const dev of ['typescript', 'vitest', 'fast-check', '@types/better-sqlite3']) {
      expect(existsSync(join(installDir, 'node_modules', dev)), dev).toBe(false);
    }
  });

  it('puts the entry point where the systemd unit looks for it', () => {
    const unit = readFileSync(join(installed, 'docs', 'deploy', 'pos-companion.service'), 'utf8');
    const script = /^ExecStart=\/usr\/bin\/env node (\S+)/m.exec(unit)![1]!;
    const prefix = '/opt/pos-companion/';
    expect(script.startsWith(prefix)).toBe(true);
    expect(existsSync(join(installDir, script.slice(prefix.length)))).toBe(true);
  });

  it('accepts the shipped example configuration with --check-config, as the install step writes it', () => {
    const example = join(installed, 'docs', 'deploy', 'config.example.jsonc');
    const config = join(work, 'config.json');
    execFileSync('sh', ['-c', `grep -v '^[[:space:]]*//' "${example}" > "${config}"`]);
    const r = spawnSync(bin, ['--check-config', '--config', config], { cwd: installDir, encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('is valid');
  });

  it('rejects a broken configuration with --check-config, naming the field', () => {
    const config = join(work, 'broken.json');
    writeFileSync(config, JSON.stringify({ host: { address: 'acquirer.example', port: 'five thousand' } }));
    const r = spawnSync(bin, ['--check-config', '--config', config], { cwd: installDir, encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/host\.port/);
  });

  it('runs one sale from the installed copy against the simulator, logging to stderr and signalling readiness', async () => {
    sim = await Simulator.start();
    const { configPath } = writeSimConfig(sim, { log: { level: 'info', target: 'stderr' } });
    const readyFile = join(work, 'run', 'ready');
    mkdirSync(join(work, 'run'));
    const terminal = new TerminalProcess(['--config', configPath, '--ready-file', readyFile], {}, { command: bin, cwd: installDir });
    try {
      await waitUntil(() => existsSync(readyFile), 60_000, terminal);
      expect(readFileSync(readyFile, 'utf8').trim()).toBe(String(terminal.child.pid));

      terminal.type('12.34');
      await terminal.waitFor(/APPROVED/, 60_000);
      terminal.type('q');
      expect(await terminal.exit()).toBe(0);
    } finally {
      if (terminal.child.exitCode === null) await terminal.kill();
    }
    expect(existsSync(readyFile)).toBe(false);
    expect(sim.host.ledger.posted().map((p) => p.amount)).toEqual([1234]);
    expect(terminal.stderr).toMatch(/"msg":"terminal ready"/);
    expect(terminal.stdout).not.toMatch(/"level":\d+/);
  }, 180_000);
});

async function waitUntil(done: () => boolean, timeoutMs: number, terminal: TerminalProcess): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (terminal.child.exitCode !== null) throw new Error(`terminal exited (${terminal.child.exitCode}); stderr:\n${terminal.stderr}`);
    if (Date.now() > deadline) throw new Error(`not ready in time; stdout:\n${terminal.stdout}\nstderr:\n${terminal.stderr}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
