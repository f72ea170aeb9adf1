import { lstatSync, mkdirSync } from 'node:fs';
import module from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

/**
 * The terminal's cache folder (the compile cache, the last validated configuration): the
 * service's own (systemd's CacheDirectory= sets CACHE_DIRECTORY; it may list several folders,
 * the first is the unit's), else one in the temporary directory. Deleting it only slows the
 * next start.
 */
export function cacheDir(env: NodeJS.ProcessEnv): string {
  return env.CACHE_DIRECTORY?.split(':')[0] || join(tmpdir(), 'pos-companion-cache');
}

/**
 * Where V8's compiled code for the product's modules is kept between starts. Read from the
 * environment because it must be known before the configuration's own modules load, through
 * Node's own variables: NODE_COMPILE_CACHE names the folder, NODE_DISABLE_COMPILE_CACHE=1
 * switches the cache off. Without them: `compile/` in the cache folder. Undefined: no cache.
 */
export function compileCacheDir(env: NodeJS.ProcessEnv): string | undefined {
  if (env.NODE_DISABLE_COMPILE_CACHE) return undefined;
  return env.NODE_COMPILE_CACHE || join(cacheDir(env), 'compile');
}

/**
 * Creates `dir` (mode 0700) and says whether it and its parent belong to this user and are
 * closed to everyone else: a cache another account could write would hand the terminal its
 * code or its configuration (the temporary directory is shared).
 */
export function privateDir(dir: string): boolean {
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    return [dir, dirname(dir)].every((d) => {
      const st = lstatSync(d);
      return st.isDirectory() && st.uid === process.getuid?.() && (st.mode & 0o022) === 0;
    });
  } catch {
    return false;
  }
}

/**
 * Turns on Node's on-disk compile cache (a warm start then skips compiling the modules it
 * loads). Never fatal: a folder that cannot be created or written only costs the speed-up,
 * so the outcome is returned for the log rather than thrown.
 */
export function enableCompileCache(env: NodeJS.ProcessEnv): string {
  const dir = compileCacheDir(env);
  if (dir === undefined) return 'off';
  // A folder named in NODE_COMPILE_CACHE is the administrator's choice (Node has opened it already).
  if (!env.NODE_COMPILE_CACHE && !privateDir(dir)) return `not available (${dir} is not a folder of this user's alone)`;
  try {
    const { status, message } = module.enableCompileCache(dir);
    const { ENABLED, ALREADY_ENABLED, DISABLED } = module.constants.compileCacheStatus;
    if (status === ENABLED || status === ALREADY_ENABLED) return `on in ${dir}`;
    if (status === DISABLED) return 'off';
    return `not available (${message ?? dir})`;
  } catch (err) {
    return `not available (${(err as Error).message})`;
  }
}

/** Writes what has been compiled so far, so a terminal that loses power later still starts warm. */
export function flushCompileCache(): void {
  try {
    module.flushCompileCache();
  } catch {
    // Only the speed-up of the next start is lost.
  }
}
