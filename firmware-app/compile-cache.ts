import module from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

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
 * Turns on Node's on-disk compile cache (a warm start then skips compiling the modules it
 * loads). Never fatal: a folder that cannot be created or written only costs the speed-up,
 * so the outcome is returned for the log rather than thrown.
 */
export function enableCompileCache(env: NodeJS.ProcessEnv): string {
  const dir = compileCacheDir(env);
  if (dir === undefined) return 'off';
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
