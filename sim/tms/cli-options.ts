import type { TmsSim } from './tms-sim.js';

/** The `npm run sim` flags that script the TMS simulator. */
export const TMS_OPTIONS = {
  'tms-down': { type: 'boolean' },
  'tms-error': { type: 'string' },
  'tms-slow': { type: 'string' },
} as const;

export const TMS_USAGE = `TMS (terminal-management server, HTTP on loopback):
  --tms-down        the TMS refuses connections (the terminal keeps its events queued)
  --tms-error CODE  the TMS answers every batch with HTTP CODE (e.g. 500) and stores nothing
  --tms-slow MS     the TMS stores each batch but answers MS milliseconds later`;

export class TmsFlagError extends Error {}

/** Applies the flags to a started TMS simulator; throws TmsFlagError on a bad value. */
export async function applyTmsOptions(
  tms: TmsSim,
  values: { 'tms-down'?: boolean; 'tms-error'?: string; 'tms-slow'?: string },
): Promise<void> {
  const error = values['tms-error'];
  const slow = values['tms-slow'];
  if (error !== undefined) {
    const status = Number(error);
    if (!Number.isInteger(status) || status < 400 || status > 599)
      throw new TmsFlagError(`--tms-error must be an HTTP status 400..599, not ${error}`);
    tms.behaviour = { type: 'error', status };
  }
  if (slow !== undefined) {
    const ms = Number(slow);
    if (!Number.isInteger(ms) || ms < 0) throw new TmsFlagError(`--tms-slow must be a whole number of milliseconds, not ${slow}`);
    tms.behaviour = { type: 'slow', ms };
  }
  if (values['tms-down']) await tms.stop();
}
