import { closeSync, existsSync, fdatasyncSync, openSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { systemClock } from '../../drivers/base/clock.js';
import { PaymentEngine } from '../../firmware-app/payments/sale.js';
import type { Figure } from './report.js';
import { benchConfig, idleTerminal, instantReader, now, simulatedCardRead } from './rig.js';
import { round, summarize, type Summary } from './stats.js';

/** Offline approvals committed; they are also the queue B2 drains. */
export const QUEUE_SIZE = 10_000;
/** Smaller queues for the runs with injected host latency (window / latency bounds their rate). */
export const SMALL_QUEUE = 120;
export const MEDIUM_QUEUE = 1_600;
const CALIBRATION_SALES = 50;
/** offline.maxCount's default: with the shipped configuration the queue never holds more. */
const DEFAULT_QUEUE_CAP = 500;
const RAW_SAMPLES = 2_000;
/** The raw writes wrap like the WAL does after a checkpoint (about 1000 pages). */
const RAW_FILE_BYTES = 4 * 1024 * 1024;

export interface SeedQueues {
  /** Database files holding this many queued offline approvals each. */
  byCount: Map<number, string>;
}

export interface DurableAcceptResult {
  figures: Figure[];
  detail: Record<string, unknown>;
  seeds: SeedQueues;
}

/** write + fdatasync of `bytes` at advancing offsets in one file, as a WAL append does. */
function rawWrites(file: string, bytes: number, count: number): number[] {
  const fd = openSync(file, existsSync(file) ? 'r+' : 'w+');
  const buffer = Buffer.alloc(bytes, 0x5a);
  const slots = Math.max(1, Math.floor(RAW_FILE_BYTES / bytes));
  const samples: number[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const t0 = now();
      writeSync(fd, buffer, 0, bytes, (i % slots) * bytes);
      fdatasyncSync(fd);
      samples.push(now() - t0);
    }
  } finally {
    closeSync(fd);
  }
  return samples;
}

/**
 * B1: the latency of committing an offline approval through the real payments engine and
 * store (synchronous=FULL), next to a raw write + fdatasync of the bytes that commit adds
 * to the WAL, on the same filesystem in the same run.
 */
export async function durableAccept(workDir: string): Promise<DurableAcceptResult> {
  const dataDir = join(workDir, 'b1');
  const config = benchConfig(dataDir, { offline: { maxCount: 1_000_000, maxTotalAmount: 1_000_000_000 } });
  const { terminal, logger } = idleTerminal(config);
  // As start() does after recovery: approvals queue their slips in the same transaction.
  terminal.receipts.attach(terminal.journal);
  const engine = new PaymentEngine({
    db: terminal.db,
    journal: terminal.journal,
    reader: instantReader(simulatedCardRead()),
    link: terminal.link,
    clock: systemClock,
    logger,
    settings: {
      identity: { terminalId: config.terminal.id, merchantId: config.terminal.merchantId, nii: config.host.nii },
      currency: config.terminal.currency,
      maxAmount: config.terminal.maxAmount,
      readTimeoutMs: config.reader.readTimeoutMs,
      responseTimeoutMs: config.host.responseTimeoutMs,
      offline: config.offline,
    },
  });
  const wal = join(dataDir, 'pos-companion.db-wal');
  const seeds: SeedQueues = { byCount: new Map() };

  /** One sale with the link down; returns the time from card data in hand to approval committed, and the WAL growth. */
  const sale = async (afterPayment: () => void): Promise<{ ms: number; walBytes: number }> => {
    let t0 = 0;
    let t1 = 0;
    let w0 = 0;
    let w1 = 0;
    const outcome = await engine.sale({ amount: 100 }, (p) => {
      if (p === 'card-read') {
        w0 = statSync(wal).size;
        t0 = now();
      } else if (p === 'done') {
        t1 = now();
        w1 = statSync(wal).size;
      }
    });
    if (outcome.result !== 'offline_approved') throw new Error(`bench sale not approved offline: ${outcome.result} ${outcome.code ?? ''}`);
    afterPayment();
    return { ms: t1 - t0, walBytes: w1 - w0 };
  };

  // Calibration: from an empty WAL, what one approval commit appends to it.
  terminal.db.pragma('wal_checkpoint(TRUNCATE)');
  const walGrowth: number[] = [];
  // No checkpoint in between, so the WAL only grows.
  for (let i = 0; i < CALIBRATION_SALES; i++) walGrowth.push((await sale(() => undefined)).walBytes);
  const commitBytes = summarize(walGrowth.filter((b) => b > 0)).p50;
  const pageSize = Number(terminal.db.pragma('page_size', { simple: true }));

  const rawFile = join(dataDir, 'raw-fdatasync.bin');
  const raw = rawWrites(rawFile, commitBytes, RAW_SAMPLES / 2);
  const commits: number[] = [];
  const snapshot = (count: number) => {
    const file = join(workDir, `saf-queue-${count}.db`);
    terminal.db.exec(`VACUUM INTO '${file.replace(/'/g, "''")}'`);
    seeds.byCount.set(count, file);
  };
  for (let i = CALIBRATION_SALES; i < QUEUE_SIZE; i++) {
    // As the terminal's idle checkpoint does (outside the timed commit).
    commits.push((await sale(() => terminal.db.pragma('wal_checkpoint(TRUNCATE)'))).ms);
    const queued = i + 1;
    if (queued === SMALL_QUEUE || queued === MEDIUM_QUEUE) snapshot(queued);
  }
  raw.push(...rawWrites(rawFile, commitBytes, RAW_SAMPLES / 2));
  snapshot(QUEUE_SIZE);
  const depth = terminal.saf.state().depth;
  await terminal.stop();
  logger.close();

  // Queue depth before commit i is CALIBRATION_SALES + i.
  const c: Summary = summarize(commits.slice(0, DEFAULT_QUEUE_CAP - CALIBRATION_SALES));
  const all: Summary = summarize(commits);
  const r: Summary = summarize(raw);
  const ratio = c.p99 / r.p99;
  const ratioAll = all.p99 / r.p99;
  const figures: Figure[] = [
    {
      id: 'B1',
      name: `offline approval commit p50, queue < ${DEFAULT_QUEUE_CAP}`,
      value: round(c.p50),
      unit: 'ms',
      target: '-',
      met: null,
      limit: `raw write+fdatasync of ${commitBytes} B p50 ${round(r.p50)} ms`,
    },
    {
      id: 'B1',
      name: `offline approval commit p99, queue < ${DEFAULT_QUEUE_CAP}`,
      value: round(c.p99),
      unit: 'ms',
      target: '-',
      met: null,
      limit: `raw write+fdatasync of ${commitBytes} B p99 ${round(r.p99)} ms`,
    },
    {
      id: 'B1',
      name: `commit p99 / raw p99, queue < ${DEFAULT_QUEUE_CAP}`,
      value: round(ratio, 2),
      unit: 'x',
      target: '<= 3',
      met: ratio <= 3,
      limit: 'same bytes, same filesystem, same run',
    },
    {
      id: 'B1',
      name: `commit p99 / raw p99, queue to ${QUEUE_SIZE}`,
      value: round(ratioAll, 2),
      unit: 'x',
      target: '<= 3',
      met: ratioAll <= 3,
      limit: `commit p50 ${round(all.p50)} ms, p99 ${round(all.p99)} ms (caps raised)`,
    },
  ];
  return {
    figures,
    seeds,
    detail: {
      commitsQueueBelowDefaultCap: c,
      commitsAll: all,
      rawWriteFdatasync: r,
      commitWalBytes: commitBytes,
      pageSize,
      walFramesPerCommit: round(commitBytes / (pageSize + 24), 1),
      queueDepthAtEnd: depth,
      measured:
        'PaymentEngine.sale with the link offline: time from the card data in hand to the offline approval committed (journal row, events, STAN, saf_queue row, print_jobs rows, alert evaluation, one immediate transaction)',
    },
  };
}
