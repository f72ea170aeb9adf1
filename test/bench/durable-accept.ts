import { closeSync, existsSync, fdatasyncSync, openSync, readSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { systemClock } from '../../drivers/base/clock.js';
import { PaymentEngine } from '../../firmware-app/payments/sale.js';
import { WAL_CHECKPOINT_DEFAULTS, type Db } from '../../firmware-app/store/db.js';
import { offlineQueueOf } from '../support/store.js';
import { at5msFsync, type Figure } from './report.js';
import { benchConfig, idleTerminal, instantReader, now, simulatedCardRead } from './rig.js';
import { round, summarize, type Summary } from './stats.js';

/** offline.maxCount's default: with the shipped configuration the queue never holds more, so that many approvals are timed. */
const DEFAULT_QUEUE_CAP = 500;
const RAW_SAMPLES = 2_000;
const PAGE = 4096;
/** The raw writes wrap like a WAL does after a checkpoint. */
const RAW_FILE_BYTES = 4 * 1024 * 1024;
/** Where the WAL index header (the start of the -shm file) keeps the last valid frame and the WAL's salt. */
const WAL_INDEX = { bytes: 48, mxFrame: 16, salt: 32 } as const;

export interface DurableAcceptResult {
  figures: Figure[];
  detail: Record<string, unknown>;
  /** This disk's fsync: the p50 of a 4 KiB write + fdatasync at advancing offsets. */
  fsyncMs: number;
  /** The p50 of the minimal single-row commit: the most commits per second this disk allows. */
  minimalCommitMs: number;
}

/** write + fdatasync of one page at advancing offsets in one file, as a WAL append does. */
function rawWrites(file: string, count: number): number[] {
  const fd = openSync(file, existsSync(file) ? 'r+' : 'w+');
  const buffer = Buffer.alloc(PAGE, 0x5a);
  const samples: number[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const t0 = now();
      writeSync(fd, buffer, 0, PAGE, (i % (RAW_FILE_BYTES / PAGE)) * PAGE);
      fdatasyncSync(fd);
      samples.push(now() - t0);
    }
  } finally {
    closeSync(fd);
  }
  return samples;
}

/** The smallest durable commit better-sqlite3 can make: one row, WAL, synchronous=FULL. */
function minimalCommitter(file: string): { commit: (i: number) => number; db: Db } {
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.exec(`CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, v INTEGER NOT NULL)`);
  const insert = db.prepare(`INSERT INTO t (v) VALUES (?)`);
  return {
    db,
    commit: (i) => {
      const t0 = now();
      insert.run(i);
      return now() - t0;
    },
  };
}

/**
 * The WAL's last frame and its salt, read from the WAL index every connection shares. The
 * WAL file's size says nothing once a checkpoint lets the next writer start the WAL again
 * from its beginning (the file keeps its size and is overwritten); the salt changes then.
 */
function walPosition(file: string): { salt: string; frames: number } {
  const header = Buffer.alloc(WAL_INDEX.bytes);
  const fd = openSync(`${file}-shm`, 'r');
  try {
    readSync(fd, header, 0, WAL_INDEX.bytes, 0);
  } finally {
    closeSync(fd);
  }
  return { salt: header.toString('hex', WAL_INDEX.salt, WAL_INDEX.salt + 8), frames: header.readUInt32LE(WAL_INDEX.mxFrame) };
}

/** Frames (pages) written between two positions, or undefined when the WAL restarted between them. */
function framesBetween(a: { salt: string; frames: number }, b: { salt: string; frames: number }): number | undefined {
  return a.salt === b.salt && b.frames > a.frames ? b.frames - a.frames : undefined;
}

/** What the terminal's checkpointer does between payments: copy a WAL that reached its size limit. */
function checkpointBySize(db: Db, file: string): void {
  if ((statSync(`${file}-wal`, { throwIfNoEntry: false })?.size ?? 0) >= WAL_CHECKPOINT_DEFAULTS.maxWalBytes)
    db.pragma('wal_checkpoint(TRUNCATE)');
}

/**
 * B1: committing an offline approval through the real payments engine and store
 * (synchronous=FULL), interleaved with a minimal better-sqlite3 single-row commit on the
 * same disk, so both see the same disk and the same load.
 */
export async function durableAccept(workDir: string): Promise<DurableAcceptResult> {
  const dataDir = join(workDir, 'b1');
  const config = benchConfig(dataDir, { offline: { maxTotalAmount: 1_000_000_000 } });
  const { terminal, logger } = idleTerminal(config);
  // As start() does after recovery: approvals queue their slips in the same transaction.
  terminal.receipts.attach(terminal.journal);
  const engine = new PaymentEngine({
    store: terminal.store,
    journal: terminal.journal,
    offlineQueue: offlineQueueOf(terminal.db),
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
      cvm: config.cvm,
    },
  });
  const dbFile = join(dataDir, 'pos-companion.db');
  const minimalFile = join(dataDir, 'minimal.db');
  const minimal = minimalCommitter(minimalFile);

  /** One sale with the link down: time and CPU from the card data in hand to the approval committed. */
  const sale = async (): Promise<{ ms: number; cpuMs: number }> => {
    let t0 = 0;
    let t1 = 0;
    let cpu0 = process.cpuUsage();
    let cpu = { user: 0, system: 0 };
    const outcome = await engine.sale({ amount: 100 }, (p) => {
      if (p === 'card-read') {
        cpu0 = process.cpuUsage();
        t0 = now();
      } else if (p === 'done') {
        t1 = now();
        cpu = process.cpuUsage(cpu0);
      }
    });
    if (outcome.result !== 'offline_approved') throw new Error(`bench sale not approved offline: ${outcome.result} ${outcome.code ?? ''}`);
    return { ms: t1 - t0, cpuMs: (cpu.user + cpu.system) / 1000 };
  };

  const rawFile = join(dataDir, 'raw-fdatasync.bin');
  const raw = rawWrites(rawFile, RAW_SAMPLES / 2);
  const commits: number[] = [];
  const cpu: number[] = [];
  const minimalCommits: number[] = [];
  // Pages written to the WAL per sale and per minimal commit: what the one fsync has to carry.
  const saleFrames: number[] = [];
  const minimalFrames: number[] = [];
  for (let i = 0; i < DEFAULT_QUEUE_CAP; i++) {
    const w0 = walPosition(dbFile);
    const s = await sale();
    const w1 = walPosition(dbFile);
    commits.push(s.ms);
    cpu.push(s.cpuMs);
    const m0 = walPosition(minimalFile);
    minimalCommits.push(minimal.commit(i));
    const m1 = walPosition(minimalFile);
    // A sale across a WAL restart cannot be counted: those samples say nothing.
    const sf = framesBetween(w0, w1);
    const mf = framesBetween(m0, m1);
    if (sf !== undefined) saleFrames.push(sf);
    if (mf !== undefined) minimalFrames.push(mf);
    checkpointBySize(terminal.db, dbFile);
    checkpointBySize(minimal.db, minimalFile);
  }
  raw.push(...rawWrites(rawFile, RAW_SAMPLES / 2));
  const depth = terminal.saf.state().depth;
  minimal.db.close();
  await terminal.stop();
  logger.close();

  const c: Summary = summarize(commits);
  const m: Summary = summarize(minimalCommits);
  const r: Summary = summarize(raw);
  const ratio = c.p50 / m.p50;
  const ratio5 = at5msFsync(c.p50, 1, r.p50) / at5msFsync(m.p50, 1, r.p50);
  const figures: Figure[] = [
    {
      id: 'B1',
      name: `offline approval commit p50, queue 0 to ${DEFAULT_QUEUE_CAP}`,
      value: round(c.p50),
      unit: 'ms',
      target: '-',
      met: null,
      limit: `p99 ${round(c.p99)} ms; CPU p50 ${round(summarize(cpu).p50)} ms; 1 fsync carrying ${round(summarize(saleFrames).p50, 1)} WAL pages (the ring-up commit's and the approval's; the minimal commit ${round(summarize(minimalFrames).p50, 1)})`,
      at5ms: `${round(at5msFsync(c.p50, 1, r.p50), 2)} ms`,
    },
    {
      id: 'B1',
      name: 'offline approval commit / minimal commit, p50',
      value: round(ratio, 2),
      unit: 'x',
      target: '<= 2',
      met: ratio <= 2,
      limit: `minimal single-row commit p50 ${round(m.p50)} ms, p99 ${round(m.p99)} ms (interleaved); commit p99 / minimal p99 ${round(c.p99 / m.p99, 2)}x`,
      at5ms: `${round(ratio5, 2)} x`,
    },
    {
      id: 'B1',
      name: 'this disk: 4 KiB write + fdatasync, p50',
      value: round(r.p50),
      unit: 'ms',
      target: '-',
      met: null,
      limit: `p99 ${round(r.p99)} ms, ${r.n} writes before and after the commits`,
      at5ms: '5 ms',
    },
  ];
  return {
    figures,
    fsyncMs: r.p50,
    minimalCommitMs: m.p50,
    detail: {
      commits: c,
      minimalCommits: m,
      commitCpuMs: summarize(cpu),
      rawWriteFdatasync: r,
      walPagesPerSale: summarize(saleFrames),
      walPagesPerMinimalCommit: summarize(minimalFrames),
      queueDepthAtEnd: depth,
      measured:
        'PaymentEngine.sale with the link offline: time from the card data in hand to the offline approval committed (journal row, events, STAN, saf_queue row, print_jobs rows, alert evaluation, one immediate transaction), each followed by one minimal better-sqlite3 single-row commit (WAL, FULL) on the same disk',
    },
  };
}
