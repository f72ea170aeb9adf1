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
