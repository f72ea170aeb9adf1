import { fork } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { systemClock } from '../../drivers/base/clock.js';
import { silentLogger } from '../../drivers/base/logger.js';
import { configSchema } from '../../firmware-app/config/schema.js';
import { HostLink } from '../../firmware-app/host/link.js';
import { localDay } from '../../firmware-app/host/messages.js';
import { openDatabase } from '../../firmware-app/store/db.js';
import { at5msFsync, type Figure } from './report.js';
import { benchConfig, idleTerminal, now, simulatedCardRead } from './rig.js';
import { round, summarize } from './stats.js';

/** Offline approvals queued for the drain. */
const QUEUE_SIZE = 10_000;
const ECHOES = 500;
/**
 * Durable commits per advice on a drain, the fewest the write-ahead rule allows as the product
 * keeps it: one commit counts the transmissions of the next `saf.countAhead` advices before they
 * leave (and records the acceptances before them).
 */
const FSYNCS_PER_ADVICE = 1 / configSchema.parse({}).saf.countAhead;

/**
 * A journal holding `count` offline approvals waiting to be forwarded, as the payments
 * engine leaves them (transaction, events, saf_queue row with the reader's encrypted card
 * data), written straight into the tables: B1 times the approvals themselves.
 */
function seedQueue(file: string, count: number): void {
  const db = openDatabase(file);
  const card = simulatedCardRead();
  const txn = db.prepare(
    `INSERT INTO transactions (uuid, type, state, amount, currency, stan, stan_day, masked_pan, last4, pan_token, entry_mode,
       auth_code, batch_number, created_at, updated_at)
     VALUES (?, 'sale', 'offline_approved', ?, 'CNY', ?, ?, ?, ?, ?, ?, ?, 1, ?, ?)`,
  );
  const event = db.prepare(`INSERT INTO transaction_events (transaction_id, from_state, to_state, at, detail) VALUES (?, ?, ?, ?, NULL)`);
  const saf = db.prepare(
    `INSERT INTO saf_queue (transaction_id, encrypted_blob, expiry, state, next_attempt_at, queued_at, updated_at)
     VALUES (?, ?, ?, 'queued', ?, ?, ?)`,
  );
  const at = Date.now() - 60_000;
  db.transaction(() => {
    for (let i = 0; i < count; i++) {
      const stan = String(i + 1).padStart(6, '0');
      const id = Number(
        txn.run(
          randomUUID(),
          100 + (i % 400),
          stan,
          localDay(new Date(at)),
          card.maskedPan,
          card.last4,
          card.panToken,
          card.entryMode,
          `Y1${stan.slice(2)}`,
          at,
          at,
        ).lastInsertRowid,
      );
      event.run(id, null, 'created', at);
      event.run(id, 'created', 'card_read', at);
      event.run(id, 'card_read', 'offline_approved', at);
      saf.run(id, card.encryptedBlob, card.expiry, at, at, at);
    }
    db.prepare(`UPDATE counters SET value = ? WHERE name = 'stan'`).run(count);
  }).immediate();
  db.pragma('wal_checkpoint(TRUNCATE)');
  db.close();
}

interface HostPeer {
  port: number;
  stop(): Promise<void>;
}

/** The host simulator in its own process, so the drain measures the terminal's forwarder, not the host's share of one event loop. */
async function startHostPeer(): Promise<HostPeer> {
  const child = fork(join(import.meta.dirname, 'host-peer.js'), [], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  const port = await new Promise<number>((resolve, reject) => {
    child.once('message', (m: { port: number }) => resolve(m.port));
    child.once('exit', (code) => reject(new Error(`host peer exited (${code}) before listening`)));
  });
  return {
    port,
    stop: () =>
      new Promise<void>((resolve) => {
        child.once('exit', () => resolve());
        child.disconnect();
      }),
  };
}

/**
 * The round trip of one message to the host peer through the product's own link (pack,
 * loopback, the host's answer, unpack), with the STAN from memory so no commit is timed.
 */
async function echoRoundTrip(port: number): Promise<number[]> {
  const config = configSchema.parse({});
  let stan = 0;
  const link = new HostLink(
    {
      address: '127.0.0.1',
      port,
      connectTimeoutMs: 5_000,
      reconnectMinMs: config.host.reconnectMinMs,
      reconnectMaxMs: config.host.reconnectMaxMs,
      echoIntervalMs: 3_600_000,
      probeAfterMs: 3_600_000,
      echoTimeoutMs: 5_000,
      identity: { terminalId: 'BENCHRTT', merchantId: config.terminal.merchantId, nii: config.host.nii },
    },
    { logger: silentLogger, clock: systemClock, nextStan: () => String((stan = (stan % 999_999) + 1)).padStart(6, '0') },
  );
  link.start();
  try {
    if (!(await link.waitOnline(10_000))) throw new Error('echo link did not come online');
    const samples: number[] = [];
    for (let i = 0; i < ECHOES; i++) {
      const t0 = now();
      if (!(await link.echo())) throw new Error('echo not answered');
      samples.push(now() - t0);
    }
    return samples;
  } finally {
    await link.stop();
  }
}

export interface DrainRun {
  window: number;
  advices: number;
  seconds: number;
  rate: number;
}

/** Forwards the seeded queue with the real SafForwarder over the real HostLink; rate from link online to queue empty. */
async function drainOnce(workDir: string, seed: string, port: number, window: number): Promise<DrainRun> {
  const dataDir = join(workDir, `b2-w${window}`);
  mkdirSync(dataDir, { recursive: true });
  copyFileSync(seed, join(dataDir, 'pos-companion.db'));
  const config = benchConfig(dataDir, { host: { port }, saf: { window }, terminal: { id: `BENCHW${String(window).padStart(2, '0')}` } });
  const { terminal, logger } = idleTerminal(config);
  try {
    terminal.link.start();
    if (!(await terminal.link.waitOnline(10_000))) throw new Error('host link did not come online');
    const t0 = now();
    terminal.saf.start();
    const { remaining } = await terminal.saf.drain();
    const seconds = (now() - t0) / 1000;
    if (remaining !== 0) throw new Error(`drain stopped with ${remaining} advices left`);
    const forwarded = terminal.db.prepare<[], { n: number }>(`SELECT count(*) AS n FROM saf_queue WHERE state = 'forwarded'`).get()!.n;
    if (forwarded !== QUEUE_SIZE) throw new Error(`expected ${QUEUE_SIZE} forwarded advices, found ${forwarded}`);
    return { window, advices: QUEUE_SIZE, seconds: round(seconds), rate: round(QUEUE_SIZE / seconds, 1) };
  } finally {
    await terminal.stop();
    logger.close();
  }
}

/**
 * B2: the store-and-forward drain of 10,000 queued offline sales at window 1 (the default)
 * and at the largest window, against its two bounds measured in the same run: window / RTT
 * (the loopback round trip through the product's link) and the fsync bound (the minimal
 * commits the count that must precede each transmission takes: one per `saf.countAhead` advices).
 */
export async function drain(
  workDir: string,
  floors: { fsyncMs: number; minimalCommitMs: number },
  defaultWindow: number,
  maxWindow: number,
): Promise<{ figures: Figure[]; detail: Record<string, unknown> }> {
  const seed = join(workDir, 'saf-queue.db');
  seedQueue(seed, QUEUE_SIZE);
  const host = await startHostPeer();
  try {
    const rtt = summarize(await echoRoundTrip(host.port));
    const fsyncBound = 1000 / (floors.minimalCommitMs * FSYNCS_PER_ADVICE);
    const runs: DrainRun[] = [];
    for (const w of [...new Set([defaultWindow, maxWindow])]) runs.push(await drainOnce(workDir, seed, host.port, w));
    const figures: Figure[] = runs.map((r) => {
      const rttBound = (r.window * 1000) / rtt.p50;
      const bound = Math.min(rttBound, fsyncBound);
      const judged = r.window === 1;
      const share = r.rate / bound;
      const rate5 = 1000 / at5msFsync(1000 / r.rate, FSYNCS_PER_ADVICE, floors.fsyncMs);
      return {
        id: 'B2',
        name: `drain ${r.advices} advices, window ${r.window}${r.window === defaultWindow ? ' (default)' : ''}`,
        value: r.rate,
        unit: '/s',
        target: judged ? '>= 2000 and >= 50% of bound' : '-',
        met: judged ? r.rate >= 2000 && share >= 0.5 : null,
        limit: `${round(100 * share, 1)}% of min(window/RTT ${round(rttBound, 0)}/s, fsync bound ${round(fsyncBound, 0)}/s); RTT p50 ${round(rtt.p50)} ms, p99 ${round(rtt.p99)} ms`,
        at5ms: `${round(rate5, 0)}/s (bound ${round(Math.min(rttBound, 1000 / at5msFsync(floors.minimalCommitMs * FSYNCS_PER_ADVICE, FSYNCS_PER_ADVICE, floors.fsyncMs)), 0)}/s)`,
      };
    });
    return {
      figures,
      detail: { runs, echoRoundTripMs: rtt, fsyncBoundPerSecond: round(fsyncBound, 1), fsyncsPerAdvice: round(FSYNCS_PER_ADVICE, 4) },
    };
  } finally {
    await host.stop();
  }
}
