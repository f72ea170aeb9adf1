import type { Clock } from '../../drivers/base/clock.js';
import { isPosError } from '../../drivers/base/errors.js';
import type { Config } from '../config/schema.js';
import type { Store } from '../store/store.js';
import type { ReportUpstream } from '../upstream/events.js';
import { sendHeartbeat, type HeartbeatSources } from './heartbeat.js';
import { purgeExpired } from './retention.js';
import type { Job } from './scheduler.js';
import { onFirstUse } from '../load-on-demand.js';

/** Loaded for the nightly run, not at every start; a failed load fails that run, named. */
const backupJob = onFirstUse('the backup job', () => import('./backup.js'));

/** Job names, as they appear in `job_runs` and on the technician's job screen. */
export const JOB = {
  settlement: 'settlement',
  heartbeat: 'heartbeat',
  outboxFlush: 'outbox-flush',
  queueKick: 'queue-kick',
  retention: 'retention',
  backup: 'backup',
} as const;

/** A queue that can be told to work through what is due now. */
export interface KickPort {
  drain(): Promise<{ remaining: number }>;
}

/** What the standard jobs call; each part is built elsewhere and handed in here. */
export interface JobPorts {
  store: Store;
  /** Writes an upstream event (the heartbeat) into the outbox. */
  report: ReportUpstream;
  clock: Clock;
  settle(slotAt: number): Promise<unknown>;
  heartbeat: HeartbeatSources;
  /** Delivers due upstream events (the outbox flusher). Absent: the job records that nothing is wired. */
  flushOutbox?: () => Promise<unknown>;
  reversals?: KickPort;
  saf?: KickPort;
  backupDir: string;
  logFile?: string;
}

/** Every job, on its own cron expression; one the configuration switches off runs only by hand. */
export function standardJobs(config: Config['jobs'], ports: JobPorts): Job[] {
  const { store, clock } = ports;
  const all: (Job & { enabled: boolean })[] = [
    {
      name: JOB.settlement,
      cron: config.settlement.cron,
      enabled: config.settlement.enabled,
      retryMs: config.settlement.retryMs,
      // Out of balance is an answer, not a failure to get one: asking again changes nothing.
      shouldRetry: (err) => !(isPosError(err) && err.code === 'SETTLEMENT_OUT_OF_BALANCE'),
      run: async ({ slotAt }) => ({ batches: await ports.settle(slotAt) }),
    },
    {
      name: JOB.heartbeat,
      cron: config.heartbeat.cron,
      enabled: config.heartbeat.enabled,
      run: async () => {
        const p = sendHeartbeat(store, ports.report, clock, ports.heartbeat);
        return { safDepth: p.saf.depth, reversalsPending: p.reversals.pending, outboxPending: p.outbox.pending };
      },
    },
    {
      name: JOB.outboxFlush,
      cron: config.outboxFlush.cron,
      enabled: config.outboxFlush.enabled,
      run: async () => (ports.flushOutbox ? { result: await ports.flushOutbox() } : { result: 'no outbox flusher wired' }),
    },
    {
      name: JOB.queueKick,
      cron: config.queueKick.cron,
      enabled: config.queueKick.enabled,
      run: async () => {
        const reversals = ports.reversals ? await ports.reversals.drain() : undefined;
        const saf = ports.saf ? await ports.saf.drain() : undefined;
        return { reversalsRemaining: reversals?.remaining ?? null, safRemaining: saf?.remaining ?? null };
      },
    },
    {
      name: JOB.retention,
      cron: config.retention.cron,
      enabled: config.retention.enabled,
      run: async () => ({
        purged: purgeExpired(store, clock, {
          journalDays: config.retention.journalDays,
          operationalDays: config.retention.operationalDays,
          logFile: ports.logFile,
        }),
      }),
    },
    {
      name: JOB.backup,
      cron: config.backup.cron,
      enabled: config.backup.enabled,
      run: async () => {
        const { nightlyBackup } = await backupJob();
        const { backup, removed } = await nightlyBackup(store, clock, { dir: ports.backupDir, keep: config.backup.keep });
        return { file: backup.file, bytes: backup.bytes, removed: removed.length };
      },
    },
  ];
  return all.map(({ enabled, ...job }) => ({ ...job, manualOnly: !enabled }));
}
