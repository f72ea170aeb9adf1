import { existsSync, readFileSync, statfsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Clock } from '../../drivers/base/clock.js';
import type { Store } from '../store/store.js';
import { TMS_EVENT, type ReportUpstream } from '../upstream/events.js';

/** What the heartbeat reports, each from the part that knows it. */
export interface HeartbeatSources {
  /** Device and link states as the cashier's status line shows them. */
  devices(): Record<string, string>;
  versions: Record<string, string>;
  saf(): { depth: number; oldestAgeMs: number | null; totalAmountByCurrency: Record<string, number | undefined> };
  reversals(): { pending: number; oldestAgeMs: number | null };
  /** The folder holding the database: the disk that fills up first. */
  dataDir: string;
}

export interface HeartbeatPayload extends Record<string, unknown> {
  devices: Record<string, string>;
  versions: Record<string, string>;
  saf: { depth: number; oldestAgeMs: number | null; totalAmountByCurrency: Record<string, number | undefined> };
  reversals: { pending: number; oldestAgeMs: number | null };
  outbox: { pending: number; oldestAgeMs: number | null };
  disk: { freeBytes: number | null; totalBytes: number | null };
}

function disk(dir: string): HeartbeatPayload['disk'] {
  try {
    const s = statfsSync(dir);
    return { freeBytes: s.bavail * s.bsize, totalBytes: s.blocks * s.bsize };
  } catch {
    return { freeBytes: null, totalBytes: null };
  }
}

export function heartbeatPayload(store: Store, clock: Clock, sources: HeartbeatSources): HeartbeatPayload {
  const now = clock.now();
  const outbox = store.queueDepths().outbox;
  return {
    devices: sources.devices(),
    versions: sources.versions,
    saf: sources.saf(),
    reversals: sources.reversals(),
    outbox: { pending: outbox.count, oldestAgeMs: outbox.oldestAt === null ? null : Math.max(0, now - outbox.oldestAt) },
    disk: disk(sources.dataDir),
  };
}

/** Queues one heartbeat for the TMS; the outbox flusher delivers it. */
export function sendHeartbeat(store: Store, report: ReportUpstream, clock: Clock, sources: HeartbeatSources): HeartbeatPayload {
  const payload = heartbeatPayload(store, clock, sources);
  report({ type: TMS_EVENT.heartbeat, payload });
  return payload;
}

/** The product version from package.json, found from here in the source tree and in dist/ alike. */
export function appVersion(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++, dir = dirname(dir)) {
    const file = join(dir, 'package.json');
    if (!existsSync(file)) continue;
    const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string };
    if (pkg.name === 'pos-companion') return pkg.version ?? 'unknown';
  }
  return 'unknown';
}
