import { execFileSync, spawn } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { EXIT_STORAGE_FAULT, exitStatusFor, startupStorageFault } from '../../firmware-app/startup-fault.js';
import { MAIN, REPO } from '../support/terminal-process.js';

/** Processes whose command line mentions `marker` (the simulator's socat pairs live under the child's TMPDIR). */
function processesMentioning(marker: string): string[] {
  const found: string[] = [];
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
      if (cmd.includes(marker)) found.push(`${pid}: ${cmd}`);
    } catch {
      // The process ended while we looked.
    }
  }
  return found;
}

/** Starts the built terminal with the embedded simulator on `dataDir`, a private TMPDIR, and waits for it to end. */
async function start(dataDir: string): Promise<{ code: number | null; stderr: string; tmp: string }> {
  const root = mkdtempSync(join(tmpdir(), 'pos-startup-'));
  const tmp = join(root, 'tmp');
  mkdirSync(tmp);
  const configPath = join(root, 'config.json');
  writeFileSync(configPath, JSON.stringify({ dataDir, sim: true, log: { target: 'stderr', level: 'error' } }));
  const child = spawn(process.execPath, [MAIN, '--config', configPath], { cwd: REPO, env: { ...process.env, TMPDIR: tmp } });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const code = await new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
  return { code, stderr, tmp };
}

describe('start-up storage faults end cleanly with a documented exit status', () => {
  it('the data folder is a file: one line naming it, exit 4, nothing left running', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'pos-startup-')), 'data');
    writeFileSync(file, 'not a folder');
    const r = await start(file);
    expect(r.code).toBe(EXIT_STORAGE_FAULT);
    expect(r.stderr).toBe(`pos-companion: STORE_DATA_DIR_NOT_A_FOLDER: data folder ${file} exists but is not a folder\n`);
    expect(processesMentioning(r.tmp)).toEqual([]);
  }, 60_000);

  it('the database cannot be read: exit 4 after the simulator started, and its socat processes are gone', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'pos-startup-'));
    writeFileSync(join(dataDir, 'pos-companion.db'), 'this is not a database, but a damaged file '.repeat(200));
    const r = await start(dataDir);
    expect(r.code).toBe(EXIT_STORAGE_FAULT);
    expect(r.stderr).toMatch(
      new RegExp(
        `^pos-companion: STORE_UNREADABLE: database ${join(dataDir, 'pos-companion.db')} cannot be opened: .*\\(SQLITE_NOTADB\\)\\n$`,
      ),
    );
    expect(processesMentioning(r.tmp)).toEqual([]);
  }, 60_000);

  it('the disk is full: a real file system with no room left (a small tmpfs, filled), exit 4, nothing left running', async () => {
    // A file system of its own, so filling it touches nothing else; needs root, as CI and the
    // dead-link test do, and fails loudly without it.
    const mountPoint = mkdtempSync(join(tmpdir(), 'pos-full-disk-'));
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m,mode=0700', 'tmpfs', mountPoint]);
    try {
      const filler = openSync(join(mountPoint, 'filler'), 'w');
      const block = Buffer.alloc(16 * 1024, 0x5a);
      try {
        for (;;) writeSync(filler, block);
      } catch (err) {
        expect((err as NodeJS.ErrnoException).code).toBe('ENOSPC');
      } finally {
        closeSync(filler);
      }
      const dataDir = join(mountPoint, 'data');
      const r = await start(dataDir);
      expect(r.code).toBe(EXIT_STORAGE_FAULT);
      expect(r.stderr).toBe(
        `pos-companion: STORE_FULL: the disk holding ${dataDir} is full (0 bytes free); free space, then start again\n`,
      );
      expect(processesMentioning(r.tmp)).toEqual([]);
    } finally {
      execFileSync('umount', [mountPoint]);
    }
  }, 60_000);

  it('a full disk met while opening the journal is the same storage fault (STORE_FULL, exit 4)', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'pos-startup-')), 'pos-companion.db');
    const db = new Database(file);
    db.exec('CREATE TABLE t (x BLOB)');
    // SQLite's own page limit makes the next write fail with a real SQLITE_FULL, as a full disk does.
    db.pragma(`max_page_count = ${Number(db.pragma('page_count', { simple: true }))}`);
    let thrown: unknown;
    try {
      db.prepare('INSERT INTO t VALUES (randomblob(100000))').run();
    } catch (err) {
      thrown = err;
    }
    db.close();
    const fault = startupStorageFault(thrown, file);
    expect(fault).toMatchObject({ code: 'STORE_FULL' });
    expect(exitStatusFor(fault)).toBe(EXIT_STORAGE_FAULT);
    expect(exitStatusFor(new Error('a bug'))).toBe(1);
  });
});
