import { readdirSync, statSync, unlinkSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { Clock } from '../../drivers/base/clock.js';
import type { Store } from '../store/store.js';

export interface RetentionPolicy {
  /** Closed-batch journal rows older than this drop their PAN token. */
  journalDays: number;
  /** Finished queue rows, job history, cleared alerts and rotated logs older than this go. */
  operationalDays: number;
  /** The live log file; its rotated siblings (`<name>.*`) are purged, never the file itself. */
  logFile?: string;
}

const DAY_MS = 86_400_000;

/**
 * What the audit rules keep: every transaction and its append-only history, the audit log,
 * open alerts, and anything still queued. What goes: rows whose work is done (delivered
 * upstream events, printed jobs, finished advices with their encrypted card blob,
 * acknowledged reversals), old job history (each job's latest run stays: catch-up reads
 * it), cleared alerts, rotated log files. Old closed-batch transactions keep their row but
 * lose the PAN token, which only duplicate and hot-list checks of recent payments need.
 */
export function purgeExpired(store: Store, clock: Clock, policy: RetentionPolicy): Record<string, number> {
  const now = clock.now();
  const ops = now - policy.operationalDays * DAY_MS;
  const journal = now - policy.journalDays * DAY_MS;
  const purged = store.tx(() => ({
    // Each repository knows which of its states are finished; queued and pending rows stay.
    outbox: store.outbox.purgeFinished(ops),
    printJobs: store.printJobs.purgeFinished(ops),
    safQueue: store.saf.purgeFinished(ops),
    reversals: store.reversals.purgeFinished(ops),
    jobRuns: store.jobRuns.purgeFinished(ops),
    alerts: store.alerts.purgeFinished(ops),
    panTokens: store.transactions.purgeFinished(journal),
  }));
  store.truncateWal();
  return { ...purged, logFiles: policy.logFile ? purgeRotatedLogs(policy.logFile, ops) : 0 };
}

function purgeRotatedLogs(logFile: string, cutoff: number): number {
  const dir = dirname(logFile);
  const prefix = `${basename(logFile)}.`;
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return 0;
  }
  let removed = 0;
  for (const name of names) {
    if (!name.startsWith(prefix)) continue;
    const file = join(dir, name);
    if (statSync(file).mtimeMs < cutoff) {
      unlinkSync(file);
      removed++;
    }
  }
  return removed;
}
