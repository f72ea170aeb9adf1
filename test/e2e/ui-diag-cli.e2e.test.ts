import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { verifyPin } from '../../firmware-app/ui/diagnostics/pin.js';
import { REPO } from '../support/terminal-process.js';

const DIAG = join(REPO, 'dist', 'firmware-app', 'control', 'diag.js');

/** `npm run diag` outside the menu: hashing a new PIN, and a clear refusal when no terminal runs. */
describe('npm run diag command line', () => {
  it('hashes a technician PIN for diagnostics.pinHash', () => {
    const r = spawnSync(process.execPath, [DIAG, '--hash-pin'], { input: '739154\n', encoding: 'utf8' });
    expect(r.status).toBe(0);
    const hash = r.stdout.trim();
    expect(hash).toMatch(/^scrypt\$16384\$8\$1\$/);
    expect(verifyPin('739154', hash)).toBe(true);
    expect(hash).not.toContain('739154');
  });

  it('refuses a PIN that is not 4 to 12 digits', () => {
    const r = spawnSync(process.execPath, [DIAG, '--hash-pin'], { input: '12\n', encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('4 to 12 digits');
  });

  it('says so when no terminal is serving the control socket', () => {
    const socket = join(mkdtempSync(join(tmpdir(), 'pos-diag-')), 'control.sock');
    const r = spawnSync(process.execPath, [DIAG, '--socket', socket], { encoding: 'utf8' });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('CONTROL_NOT_RUNNING');
    expect(r.stderr).toContain('is the terminal running');
  });
});
