import { PosError } from '../drivers/base/errors.js';

export class ModuleLoadError extends PosError {}

/**
 * Loads a module only a user's action needs (the technician menu, a restore), so a start
 * does not pay for it. A file missing or broken in the installed copy becomes a typed error
 * naming what could not be opened, as any other fault the user can meet.
 */
export async function loadOnDemand<T>(what: string, load: () => Promise<T>): Promise<T> {
  try {
    return await load();
  } catch (err) {
    throw new ModuleLoadError('MODULE_LOAD_FAILED', `${what} could not be loaded: ${(err as Error).message}`, { what }, { cause: err });
  }
}

/**
 * `loadOnDemand` once: the first call starts the load, later calls share it. A failed load is
 * forgotten, so the next use (the print queue's next attempt, the next settlement) tries again.
 */
export function onFirstUse<T>(what: string, load: () => Promise<T>): () => Promise<T> {
  let loading: Promise<T> | undefined;
  return () => {
    loading ??= loadOnDemand(what, load).catch((err: unknown) => {
      loading = undefined;
      throw err;
    });
    return loading;
  };
}
