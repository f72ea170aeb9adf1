import { fork } from 'node:child_process';
import { copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Figure } from './report.js';
import { benchConfig, idleTerminal, now } from './rig.js';
import { round } from './stats.js';
import { MEDIUM_QUEUE, QUEUE_SIZE, SMALL_QUEUE, type SeedQueues } from './durable-accept.js';

const INJECTED_LATENCY_MS = 50;

interface HostPeer {
  port: number;
  stop(): Promise<void>;
}

async function startHostPeer(delayMs: number): Promise<HostPeer> {
  const child = fork(join(import.meta.dirname, 'host-peer.js'), [String(delayMs)], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
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

export interface DrainRun {
  window: number;
  latencyMs: number;
  advices: number;
  seconds: number;
  rate: number;
}

/** Forwards a seeded queue with the real SafForwarder over the real HostLink; rate from link online to queue empty. */
async function drainOnce(workDir: string, seed: string, queued: number, window: number, latencyMs: number): Promise<DrainRun> {
  const dataDir = join(workDir, `b2-w${window}-l${latencyMs}-${queued}`);
  mkdirSync(dataDir, { recursive: true });
  copyFileSync(seed, join(dataDir, 'pos-companion.db'));
  const host = await startHostPeer(latencyMs);
  const config = benchConfig(dataDir, { host: { port: host.port }, saf: { window } });
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
    if (forwarded !== queued) throw new Error(`expected ${queued} forwarded advices, found ${forwarded}`);
    return { window, latencyMs, advices: queued, seconds: round(seconds), rate: round(queued / seconds, 1) };
  } finally {
    await terminal.stop();
    logger.close();
    await host.stop();
  }
}

/**
 * B2: the store-and-forward drain. 10,000 queued offline sales at window 1 and at the
 * largest window, and with 50 ms injected host latency (smaller queues: window / latency
 * bounds that rate), where the limit is window / latency.
 */
export async function drain(
  workDir: string,
  seeds: SeedQueues,
  defaultWindow: number,
  maxWindow: number,
): Promise<{ figures: Figure[]; detail: Record<string, unknown> }> {
  const seed = (n: number) => {
    const file = seeds.byCount.get(n);
    if (!file) throw new Error(`no seeded queue of ${n}`);
    return file;
  };
  const windows = [...new Set([1, defaultWindow, maxWindow])];
  const runs: DrainRun[] = [];
  for (const w of windows) runs.push(await drainOnce(workDir, seed(QUEUE_SIZE), QUEUE_SIZE, w, 0));
  for (const w of windows) {
    const n = w === 1 ? SMALL_QUEUE : MEDIUM_QUEUE;
    runs.push(await drainOnce(workDir, seed(n), n, w, INJECTED_LATENCY_MS));
  }
  const figures: Figure[] = [];
  for (const r of runs) {
    const label = `window ${r.window}${r.window === defaultWindow ? ' (default)' : ''}`;
    if (r.latencyMs === 0) {
      const judged = r.window === defaultWindow;
      figures.push({
        id: 'B2',
        name: `drain ${r.advices} advices, ${label}`,
        value: r.rate,
        unit: '/s',
        target: judged ? '>= 2000' : '-',
        met: judged ? r.rate >= 2000 : null,
        limit: 'host sim in its own process on loopback, no injected latency',
      });
    } else {
      const bound = (r.window * 1000) / r.latencyMs;
      figures.push({
        id: 'B2',
        name: `drain ${r.advices} advices, ${label}, +${r.latencyMs} ms`,
        value: r.rate,
        unit: '/s',
        target: `>= ${round(0.8 * bound, 1)} (80%)`,
        met: r.rate >= 0.8 * bound,
        limit: `window / latency = ${round(bound, 1)}/s (${round((100 * r.rate) / bound, 1)}% reached)`,
      });
    }
  }
  return { figures, detail: { runs } };
}
