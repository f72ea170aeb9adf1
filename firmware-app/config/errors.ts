import { readFileSync } from 'node:fs';
import { PosError } from '../../drivers/base/errors.js';

/** Kept apart from the validator, so the process can read the file and name the error without loading it. */
export class ConfigError extends PosError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super('CONFIG_INVALID', message, details);
  }
}

/** The configuration file's text, or the error a technician sees when it cannot be read. */
export function readConfigText(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read configuration file ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
}
