import { EXIT_STORAGE_FAULT } from '../../firmware-app/startup-fault.js';
import { EXIT_SHUT_DOWN } from '../../firmware-app/ui/start.js';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../firmware-app/config/load.js';
import { collectReference, generateReference, REFERENCE_FILE, undocumentedKeys } from '../../firmware-app/config/reference.js';

const REPO = resolve(import.meta.dirname, '..', '..');
const DEPLOY = join(REPO, 'docs', 'deploy');
const UNIT = join(DEPLOY, 'pos-companion.service');

/** `Key=value` lines of one section of a unit file; repeated keys keep every value. */
function unitSection(text: string, section: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  let current = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line.startsWith('#') || line === '') continue;
    const header = /^\[(.+)\]$/.exec(line);
    if (header) {
      current = header[1]!;
      continue;
    }
    if (current !== section) continue;
    const eq = line.indexOf('=');
    const key = line.slice(0, eq);
    out.set(key, [...(out.get(key) ?? []), line.slice(eq + 1)]);
  }
  return out;
}

/** What the installation instructions do to the example: drop the comment lines. */
function stripCommentLines(jsonc: string): string {
  return jsonc
    .split('\n')
    .filter((l) => !/^\s*\/\//.test(l))
    .join('\n');
}

function run(cmd: string, args: string[]): { status: number | null; stdout: string; stderr: string; error?: Error } {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '', error: r.error };
}

describe('the systemd unit', () => {
  const text = readFileSync(UNIT, 'utf8');
  const service = unitSection(text, 'Service');
  const one = (key: string) => {
    const values = service.get(key);
    expect(values, key).toHaveLength(1);
    return values![0]!;
  };

  it('is accepted by systemd-analyze verify without a single warning', () => {
    const r = run('systemd-analyze', ['verify', UNIT]);
    expect(r.error, 'systemd-analyze is needed (Debian: apt-get install systemd; .ci/run installs it)').toBeUndefined();
    expect(r.stderr + r.stdout).toBe('');
    expect(r.status).toBe(0);
  });

  it('keeps its systemd exposure level at 2.0 or better (systemd-analyze security)', () => {
    const r = run('systemd-analyze', ['security', '--offline=yes', '--threshold=20', '--no-pager', UNIT]);
    expect(
      r.status,
      r.stdout
        .split('\n')
        .filter((l) => l.startsWith('→'))
        .join(''),
    ).toBe(0);
  });

  it('restarts after any exit but a configuration error, a storage fault or a technician shutdown, as a dedicated user with serial access', () => {
    expect(one('Restart')).toBe('always');
    // The technician's "Shut down terminal" stays down and is not a failed unit.
    expect(one('RestartPreventExitStatus').split(/\s+/)).toContain(String(EXIT_SHUT_DOWN));
    expect(one('SuccessExitStatus').split(/\s+/)).toContain(String(EXIT_SHUT_DOWN));
    expect(one('RestartPreventExitStatus').split(/\s+/)).toContain('2');
    // A storage fault at start-up (EXIT_STORAGE_FAULT) is not retried either.
    expect(one('RestartPreventExitStatus').split(/\s+/)).toContain(String(EXIT_STORAGE_FAULT));
    expect(one('User')).toBe('pos-companion');
    expect(one('User')).not.toBe('root');
    expect(one('SupplementaryGroups').split(/\s+/)).toContain('dialout');
  });

  it('is hardened, with only its own state and log folders writable', () => {
    expect(one('NoNewPrivileges')).toBe('yes');
    expect(one('ProtectSystem')).toBe('strict');
    const writable = one('ReadWritePaths').split(/\s+/);
    expect(writable).toContain(`/var/lib/${one('StateDirectory')}`);
    expect(writable).toContain(`/var/log/${one('LogsDirectory')}`);
    expect(service.has('MemoryDenyWriteExecute')).toBe(false);
  });

  it('gives the compile cache a folder of its own that survives restarts', () => {
    // PrivateTmp empties /tmp at every restart: the cache there would never be warm.
    expect(one('PrivateTmp')).toBe('yes');
    expect(one('CacheDirectory')).toBe('pos-companion');
  });

  it('runs the built entry point and waits for the ready file the process writes', () => {
    const exec = one('ExecStart').split(/\s+/);
    expect(exec.slice(0, 2)).toEqual(['/usr/bin/env', 'node']);
    expect(exec[2]).toMatch(/\/node_modules\/pos-companion\/dist\/firmware-app\/main\.js$/);
    const ready = exec[exec.indexOf('--ready-file') + 1]!;
    expect(ready.startsWith(`/run/${one('RuntimeDirectory')}/`)).toBe(true);
    expect(one('ExecStartPost')).toContain(`[ ! -e ${ready} ]`);
    expect(exec[exec.indexOf('--config') + 1]).toBe(`/etc/${one('ConfigurationDirectory')}/config.json`);
  });

  it('keeps stdout for the cashier console and sends stderr (the log) to the journal', () => {
    expect(one('StandardInput')).toBe('tty');
    expect(one('StandardOutput')).toBe('tty');
    expect(one('StandardError')).toBe('journal');
  });

  it('creates its user with the sysusers file, in the dialout group', () => {
    const root = mkdtempSync(join(tmpdir(), 'pos-sysusers-'));
    mkdirSync(join(root, 'etc'));
    writeFileSync(join(root, 'etc', 'passwd'), 'root:x:0:0:root:/root:/bin/sh\n');
    writeFileSync(join(root, 'etc', 'group'), 'root:x:0:\ndialout:x:20:\n');
    const r = run('systemd-sysusers', [`--root=${root}`, join(DEPLOY, 'pos-companion.sysusers.conf')]);
    expect(r.status, r.stderr).toBe(0);
    const passwd = readFileSync(join(root, 'etc', 'passwd'), 'utf8');
    expect(passwd).toMatch(/^pos-companion:x:\d+:\d+:[^:]*:\/var\/lib\/pos-companion:\/usr\/sbin\/nologin$/m);
    expect(readFileSync(join(root, 'etc', 'group'), 'utf8')).toMatch(/^dialout:x:20:pos-companion$/m);
  });
});

describe('the example configuration', () => {
  const example = readFileSync(join(DEPLOY, 'config.example.jsonc'), 'utf8');
  const service = unitSection(readFileSync(UNIT, 'utf8'), 'Service');

  it('is valid once its comment lines are removed, as the install step does', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'pos-example-')), 'config.json');
    writeFileSync(file, stripCommentLines(example));
    const config = loadConfig({ file });
    expect(config.sim).toBe(false);
    expect(config.dataDir).toBe(`/var/lib/${service.get('StateDirectory')![0]}`);
    expect(config.log.target).toBe('stderr');
  });

  it('names the devices the udev rule example creates', () => {
    const rules = readFileSync(join(DEPLOY, '99-pos-companion.rules'), 'utf8');
    const config = JSON.parse(stripCommentLines(example)) as { reader: { path: string }; printer: { path: string } };
    for (const path of [config.reader.path, config.printer.path]) {
      expect(rules).toContain(`SYMLINK+="${path.replace('/dev/', '')}"`);
    }
    for (const line of rules.split('\n').filter((l) => l.startsWith('SUBSYSTEM'))) {
      expect(line).toContain('GROUP="dialout"');
    }
  });
});

/** Whether an `engines.node` range admits a Node major; only the range forms dependencies use here. */
function admitsMajor(range: string, major: number): boolean {
  return range.split('||').some((part) => {
    const p = part.trim();
    const x = /^(\d+)\.x$/.exec(p);
    if (x) return Number(x[1]) === major;
    const caret = /^\^\s*(\d+)(?:\.\d+){0,2}$/.exec(p);
    if (caret) return Number(caret[1]) === major;
    const min = /^>=\s*(\d+)(?:\.\d+){0,2}$/.exec(p);
    if (min) return major >= Number(min[1]);
    throw new Error(`engines range "${p}" is not understood by this check; read it and extend the check`);
  });
}

describe('supported Node versions', () => {
  const pkg = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as {
    engines: { node: string };
    dependencies: Record<string, string>;
  };

  it('promises Node 22 and 24 (Node 20 is past its end of life), and every runtime dependency agrees for 22 and 24', () => {
    expect(pkg.engines.node).toBe('^22.12.0 || >=24.0.0');
    expect(admitsMajor(pkg.engines.node, 20)).toBe(false);
    for (const dep of Object.keys(pkg.dependencies)) {
      const range = (JSON.parse(readFileSync(join(REPO, 'node_modules', dep, 'package.json'), 'utf8')) as { engines?: { node?: string } })
        .engines?.node;
      if (range === undefined) continue;
      for (const major of [22, 24]) expect(admitsMajor(range, major), `${dep} engines "${range}" on Node ${major}`).toBe(true);
    }
  });
});

describe('the configuration reference', () => {
  it('is the committed docs/configuration.md, regenerated from the schema (npm run docs:config when this fails)', () => {
    expect(readFileSync(join(REPO, REFERENCE_FILE), 'utf8')).toBe(generateReference(REPO));
  });

  it('gives every key a meaning (write a /** comment */ above a new key in schema.ts)', () => {
    const sections = collectReference(readFileSync(join(REPO, 'firmware-app/config/schema.ts'), 'utf8'));
    expect(undocumentedKeys(sections)).toEqual([]);
    const keys = sections.flatMap((s) => s.rows.map((r) => r.path.join('.')));
    expect(keys).toEqual(expect.arrayContaining(['dataDir', 'host.responseTimeoutMs', 'log.maxBytes', 'log.target']));
  });
});
