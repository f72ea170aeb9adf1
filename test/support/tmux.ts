import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * A real terminal for end-to-end UI tests: a detached tmux session with its own server
 * socket (`tmux -L`), driven with send-keys and read with capture-pane, the way a person
 * at the keyboard (or on SSH) uses the product.
 */
export class TmuxTerminal {
  private constructor(
    readonly socket: string,
    readonly session: string,
  ) {}

  static start(name: string, command: string[], options: { cwd: string; width?: number; height?: number }): TmuxTerminal {
    const socket = `pos-${name}-${process.pid}-${Date.now().toString(36)}`;
    const t = new TmuxTerminal(socket, name);
    const quoted = command.map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
    t.tmux(
      'new-session',
      '-d',
      '-s',
      name,
      '-x',
      String(options.width ?? 120),
      '-y',
      String(options.height ?? 40),
      '-c',
      options.cwd,
      quoted,
    );
    // Keeps the last screen readable when the process exits, for assertions and failure output.
    t.tmux('set-option', '-t', name, 'remain-on-exit', 'on');
    return t;
  }

  private tmux(...args: string[]): string {
    return execFileSync('tmux', ['-L', this.socket, ...args], { encoding: 'utf8' });
  }

  /** Named keys (Enter, Escape, BSpace) or single characters. */
  keys(...keys: string[]): void {
    this.tmux('send-keys', '-t', this.session, ...keys);
  }

  /** Literal text, character by character. */
  type(text: string): void {
    this.tmux('send-keys', '-t', this.session, '-l', text);
  }

  screen(): string {
    return this.tmux('capture-pane', '-p', '-t', this.session);
  }

  async waitFor(pattern: RegExp, timeoutMs = 20_000): Promise<RegExpMatchArray> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const last = this.screen();
      const m = last.match(pattern);
      if (m) return m;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${pattern}; screen:\n${last}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /**
   * Saves the current screen as text when UI_CAPTURE_DIR is set (the README's captures come
   * from here). Not a POS_ name: the terminal reads every POS_* variable as a config override.
   */
  capture(name: string): void {
    const dir = process.env.UI_CAPTURE_DIR;
    if (!dir) return;
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, `${name}.txt`), this.screen().replace(/\s+$/, '\n'));
  }

  kill(): void {
    try {
      this.tmux('kill-server');
    } catch {
      // Already gone: the session ended and took its server with it.
    }
  }
}
