import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseConfig } from '../../firmware-app/config/load.js';
import type { Config } from '../../firmware-app/config/schema.js';
import type { Simulator } from '../../sim/index.js';

export const REPO = resolve(import.meta.dirname, '..', '..');
export const MAIN = join(REPO, 'dist', 'firmware-app', 'main.js');

/** A configuration for an in-process `Terminal` against a running simulator, in a fresh data folder. */
export function inProcessConfig(sim: Simulator, dirPrefix: string, extra: Record<string, unknown> = {}): Config {
  const ep = sim.endpoints;
  return parseConfig({
    dataDir: mkdtempSync(join(tmpdir(), dirPrefix)),
    reader: { path: ep.readerPath, commandTimeoutMs: 5000 },
    printer: { path: ep.printerPath, statusTimeoutMs: 5000 },
    host: { address: ep.hostAddress, port: ep.hostPort, responseTimeoutMs: 5000 },
    log: { level: 'silent', target: 'stdout' },
    ...extra,
  });
}

/** A configuration file pointing the terminal at a running simulator. */
export function writeSimConfig(sim: Simulator, overrides: Record<string, unknown> = {}): { configPath: string; dataDir: string } {
  const dataDir = mkdtempSync(join(tmpdir(), 'pos-data-'));
  const ep = sim.endpoints;
  const base: Record<string, Record<string, unknown> | string | boolean> = {
    dataDir,
    // Generous device timeouts: CI shares two cores with CPU-heavy property tests.
    reader: { path: ep.readerPath, commandTimeoutMs: 5000 },
    printer: { path: ep.printerPath, statusTimeoutMs: 5000 },
    host: { address: ep.hostAddress, port: ep.hostPort, responseTimeoutMs: 3000 },
    log: { level: 'debug', target: 'file' },
  };
  for (const [k, v] of Object.entries(overrides)) {
    const cur = base[k];
    base[k] =
      typeof cur === 'object' && typeof v === 'object' && v !== null ? { ...cur, ...(v as Record<string, unknown>) } : (v as string);
  }
  const configPath = join(dataDir, 'config.json');
  writeFileSync(configPath, JSON.stringify(base, null, 2));
  return { configPath, dataDir };
}

/** The built terminal process, driven through its console like a cashier would. */
export class TerminalProcess {
  readonly child: ChildProcess;
  stdout = '';
  stderr = '';
  private readonly exited: Promise<number | null>;

  /** `launch` runs another entry point (an installed copy) instead of the repository's dist/. */
  constructor(args: string[], env: NodeJS.ProcessEnv = {}, launch?: { command: string; cwd: string }) {
    const [command, argv] = launch ? [launch.command, args] : [process.execPath, [MAIN, ...args]];
    this.child = spawn(command, argv, { cwd: launch?.cwd ?? REPO, env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
    this.child.stdout?.on('data', (d: Buffer) => {
      this.stdout += d.toString();
    });
    this.child.stderr?.on('data', (d: Buffer) => {
      this.stderr += d.toString();
    });
    this.exited = new Promise((res) => this.child.once('exit', (code) => res(code)));
  }

  type(line: string): void {
    this.child.stdin?.write(`${line}\n`);
  }

  /** Waits until stdout (after `from` characters) matches. */
  async waitFor(pattern: RegExp, timeoutMs = 15_000, from = 0): Promise<RegExpMatchArray> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const m = this.stdout.slice(from).match(pattern);
      if (m) return m;
      if (this.child.exitCode !== null)
        throw new Error(`terminal exited (${this.child.exitCode}) before ${pattern}; stdout:\n${this.stdout}\nstderr:\n${this.stderr}`);
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${pattern}; stdout:\n${this.stdout}\nstderr:\n${this.stderr}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  exit(): Promise<number | null> {
    return this.exited;
  }

  kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<number | null> {
    this.child.kill(signal);
    return this.exited;
  }
}
