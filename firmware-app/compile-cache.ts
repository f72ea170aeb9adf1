import module from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Where V8's compiled code for the product's modules is kept between starts. Read from the
 * environment because it must be known before the configuration's own modules load, through
 * Node's own variables: NODE_COMPILE_CACHE names the folder, NODE_DISABLE_COMPILE_CACHE=1
 * switches the cache off. Without them: the service's cache folder (systemd's CacheDirectory=
 * sets CACHE_DIRECTORY), else a folder in the temporary directory. Undefined: no cache.
 */
export function compileCacheDir(env: NodeJS.ProcessEnv): string | undefined {
  if (env.NODE_DISABLE_COMPILE_CACHE) return undefined;
  if (env.NODE_COMPILE_CACHE) return env.NODE_COMPILE_CACHE;
  // systemd may list several folders, separated by colons; the first is the unit's own.
  const service = env.CACHE_DIRECTORY?.split(':')[0];
  return service ? join(service, 'compile') : join(tmpdir(), 'pos-companion-compile-cache');
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
