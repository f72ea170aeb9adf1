import { createHash } from 'node:crypto';
import { readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { privateDir } from '../compile-cache.js';
import { dirname, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readConfigText } from './errors.js';
import type { Config } from './schema.js';

/** Relative imports of a built module (`from './x.js'`, `import './x.js'`). */
const RELATIVE_IMPORT = /(?:from|import)\s*'(\.{1,2}\/[^']+\.js)'/g;

/**
 * The built validator's own code: the schema and loader modules and every module they import
 * from this package, and the version of the validation library. A different build (an
 * upgrade, a changed default or rule) makes a different key.
 */
function validatorFingerprint(): string {
  const hash = createHash('sha256');
  const seen = new Set<string>();
  const here = fileURLToPath(import.meta.url);
  // Built modules import `./x.js`; run from source (the tests), the files beside this one are `.ts`.
  const ext = extname(here);
  const pending = [join(dirname(here), `load${ext}`)];
  while (pending.length > 0) {
    const file = pending.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    const text = readFileSync(file, 'utf8');
    hash.update(file).update('\0').update(text).update('\0');
    for (const [, spec] of text.matchAll(RELATIVE_IMPORT)) pending.push(join(dirname(file), spec!.replace(/\.js$/, ext)));
  }
  hash.update(readFileSync(fileURLToPath(import.meta.resolve('zod/package.json'))));
  // Time zones and the like are checked against the runtime's own data.
  hash.update(process.version);
  return hash.digest('hex');
}

/** Everything validation reads: the validator, the file's bytes, and the POS_ variables. */
function inputKey(fingerprint: string, source: { file: string; text: string } | undefined, env: NodeJS.ProcessEnv): string {
  const overrides = Object.entries(env)
    .filter(([name, value]) => name.startsWith('POS_') && value !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return createHash('sha256')
    .update(JSON.stringify({ fingerprint, file: source?.file ?? null, text: source?.text ?? null, overrides }))
    .digest('hex');
}

/**
 * Loads the configuration, remembering the last one that passed validation in `cacheDir`
 * (mode 0600) under a key of everything validation reads. A start whose file, POS_ variables
 * and build are unchanged takes the remembered result and never loads the validator, about a
 * fifth of a warm start's time and memory; any change validates in full, so a technician
 * sees exactly the errors `loadConfig` gives. The cache is only a speed-up: one that cannot
 * be read, parsed or written is ignored.
 */
export async function loadConfigRemembered(options: {
  file?: string;
  env: NodeJS.ProcessEnv;
  cacheDir: string | undefined;
}): Promise<Config> {
  const { file, env, cacheDir } = options;
  if (cacheDir === undefined) return (await import('./load.js')).loadConfig({ file, env });
  let source: { file: string; text: string } | undefined;
  if (file) source = { file, text: readConfigText(file) };
  const key = inputKey(validatorFingerprint(), source, env);
  const remembered = join(cacheDir, 'validated-config.json');
  const usable = privateDir(cacheDir);
  try {
    const st = statSync(remembered);
    const entry = JSON.parse(readFileSync(remembered, 'utf8')) as { key?: unknown; config?: Config };
    const own = usable && st.uid === process.getuid?.() && (st.mode & 0o077) === 0;
    if (own && entry.key === key && entry.config) return entry.config;
  } catch {
    // Absent or unreadable: validate.
  }
  const config = (await import('./load.js')).configFromText(source, env);
  if (!usable) return config;
  try {
    const partial = `${remembered}.${process.pid}.tmp`;
    writeFileSync(partial, JSON.stringify({ key, config }), { mode: 0o600 });
    renameSync(partial, remembered);
  } catch {
    // Only the next start's speed-up is lost.
  }
  return config;
}
