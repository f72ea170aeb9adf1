import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { SimError } from './errors.js';

export class SocatMissingError extends SimError {
  constructor() {
    super(
      'SIM_SOCAT_MISSING',
      'socat is not installed; the simulator needs it to create pseudo-terminals. Install it with: sudo apt-get install socat (Debian/Ubuntu) or brew install socat (macOS)',
    );
  }
}

export function socatAvailable(): boolean {
  const r = spawnSync('socat', ['-V'], { stdio: 'ignore' });
  return r.error === undefined && r.status === 0;
}

/**
 * A pseudo-terminal pair made by socat: the product opens `devicePath` as if it were the
 * real serial port, the simulator opens `simPath`. Stopping socat makes both paths vanish,
 * which is exactly what an unplugged USB adapter looks like; starting it again with the
 * same paths is a replug.
 */
export class PtyPair {
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();

  constructor(
    readonly devicePath: string,
    readonly simPath: string,
  ) {}

  get running(): boolean {
    return this.child !== undefined;
  }

  async start(timeoutMs = 5000): Promise<void> {
    if (this.child) return;
    if (!socatAvailable()) throw new SocatMissingError();
    for (const p of [this.devicePath, this.simPath]) rmSync(p, { force: true });
    const child = spawn('socat', [`PTY,raw,echo=0,link=${this.devicePath}`, `PTY,raw,echo=0,link=${this.simPath}`], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-2000);
    });
    this.child = child;
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    child.once('exit', () => {
      if (this.child === child) this.child = undefined;
    });
    const deadline = Date.now() + timeoutMs;
    while (!(existsSync(this.devicePath) && existsSync(this.simPath))) {
      if (!this.child) throw new SimError('SIM_PTY_FAILED', `socat exited before creating ${this.devicePath}: ${stderr.trim()}`);
      if (Date.now() > deadline) {
        await this.stop();
        throw new SimError('SIM_PTY_FAILED', `socat did not create ${this.devicePath} within ${timeoutMs} ms`);
      }
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (!child) return;
    child.kill('SIGTERM');
    const killer = setTimeout(() => child.kill('SIGKILL'), 2000);
    await this.exited;
    clearTimeout(killer);
    this.child = undefined;
    // socat removes its links on a clean exit; make sure after SIGKILL too.
    for (const p of [this.devicePath, this.simPath]) rmSync(p, { force: true });
  }
}
