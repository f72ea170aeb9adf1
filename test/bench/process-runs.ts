import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Simulator } from '../../sim/index.js';
import { bareNodeStart, ProductProcess } from './product-process.js';
import { at5msFsync, type Figure } from './report.js';
import { now, writeConfigFile } from './rig.js';
import { round, summarize } from './stats.js';
import { transitFloors } from './transit.js';

const STARTS = 5;
/** Online sales timed at the boundaries (B3), with the printer's wire at the configured speed. */
const TIMED_SALES = 150;
/** The JS heap after this many sales is the base growth is measured from: every path has run by then. */
const BASE_SALES = 1_000;
const MIDPOINT_SALES = 5_000;
const TOTAL_SALES = 10_000;
/** Amounts typed ahead of the prompt; it runs them one after another. */
const TYPE_AHEAD = 50;
/** What each B3 leg commits: card_read with online_sent, then the answer. */
const FSYNCS_PER_LEG = 1;
const RSS_BUDGET_MB = 75;

const isStatusRequest = (chunk: Buffer) => chunk[0] === 0x10 && chunk[1] === 0x04;

/** fsyncs of one warm start to ready, counted under strace; undefined without strace. */
async function startFsyncs(configFile: string, traceFile: string): Promise<number | undefined> {
  const probe = spawnSync('strace', ['-V'], { stdio: 'ignore' });
  if (probe.error !== undefined || probe.status !== 0) return undefined;
  const p = new ProductProcess(configFile, { under: ['strace', '-f', '-qq', '-e', 'trace=fsync,fdatasync', '-o', traceFile] });
  await p.waitReady();
  const atReady = readFileSync(traceFile, 'utf8')
    .split('\n')
    .filter((l) => /(^|\s)f(data)?sync\(/.test(l)).length;
  await p.quit();
  return atReady;
}

/**
 * B3 and B4 against the built process and the simulator (real ptys, loopback TCP): start
 * to ready and RSS at ready, the time the product adds on the sale path at the device and
 * host boundaries, and its JavaScript heap over 10,000 sales.
 */
export async function processRuns(workDir: string, fsyncMs: number): Promise<{ figures: Figure[]; detail: Record<string, unknown> }> {
  const floors = await transitFloors(workDir);
  const sim = await Simulator.start({ dir: join(workDir, 'sim'), tapDelayMs: 0 });
  const ep = sim.endpoints;
  const dataDir = join(workDir, 'b3b4');
  const configFile = writeConfigFile(dataDir, {
    reader: { path: ep.readerPath },
    printer: { path: ep.printerPath },
    host: { address: ep.hostAddress, port: ep.hostPort },
  });
  try {
    // B4 start: devices and host already up; the first start also creates the database.
    const starts: { ms: number; rssMb: number }[] = [];
    const bare: { ms: number; rssMb: number }[] = [];
    for (let i = 0; i < STARTS; i++) {
      const p = new ProductProcess(configFile);
      starts.push({ ms: (await p.waitReady()) - p.spawnedAt, rssMb: p.readyRssMb! });
      await p.quit();
      bare.push(await bareNodeStart());
    }
    const fsyncsAtStart = await startFsyncs(configFile, join(workDir, 'start.trace'));

    // B3: timestamps in the simulator peers, which include pty and loopback transit.
    const cardTo0200: number[] = [];
    const answerToReceipt: number[] = [];
    let cardAt: number | undefined;
    let answeredAt: number | undefined;
    sim.reader.on('card-read', () => {
      cardAt = now();
    });
    sim.host.onRequest((msg) => {
      if (msg.mti !== '0200') return;
      if (cardAt !== undefined) cardTo0200.push(now() - cardAt);
      cardAt = undefined;
      // Observers run before the host answers; the 0210 is written in the same tick.
      queueMicrotask(() => {
        answeredAt = now();
      });
    });
    sim.printer.on('data', (chunk: Buffer) => {
      if (answeredAt === undefined || isStatusRequest(chunk)) return;
      answerToReceipt.push(now() - answeredAt);
      answeredAt = undefined;
    });

    const product = new ProductProcess(configFile, { heapProbe: true });
    await product.waitReady();
    const heap: { sales: number; mb: number }[] = [{ sales: 0, mb: round(await product.heapAfterGcMb(), 2) }];
    for (let i = 1; i <= TIMED_SALES; i++) {
      product.type('1.00');
      await product.waitCompleted(i);
    }
    const receiptBaud = sim.printer.wireBaudRate;
    heap.push({ sales: product.completed, mb: round(await product.heapAfterGcMb(), 2) });

    // The rest of the 10,000 sales with the printer taking bytes as fast as the pty does.
    sim.printer.wireBaudRate = 0;
    sim.printer.removeAllListeners('data');
    const tSales = now();
    let typed = product.completed;
    for (const checkpoint of [BASE_SALES, MIDPOINT_SALES, TOTAL_SALES]) {
      while (product.completed < checkpoint) {
        while (typed < checkpoint && typed - product.completed < TYPE_AHEAD) {
          product.type('1.00');
          typed++;
        }
        await product.waitCompleted(Math.min(checkpoint, product.completed + TYPE_AHEAD / 2));
        sim.printer.receipts.length = 0;
      }
      heap.push({ sales: product.completed, mb: round(await product.heapAfterGcMb(), 2) });
    }
    const rssAtEnd = round(product.rssMb(), 1);
    const salesPerSecond = (TOTAL_SALES - TIMED_SALES) / ((now() - tSales) / 1000);
    const notApproved = product.notApproved;
    await product.quit();

    const warm = starts.slice(1);
    const s = summarize(warm.map((x) => x.ms));
    const readyRss = summarize(warm.map((x) => x.rssMb));
    const b = summarize(bare.map((x) => x.ms));
    const bareRss = summarize(bare.map((x) => x.rssMb));
    const a = summarize(cardTo0200);
    const r = summarize(answerToReceipt);
    const floor = floors.pty.p50 + floors.tcp.p50;
    const base = heap.find((h) => h.sales === BASE_SALES)!.mb;
    const end = heap.at(-1)!.mb;
    const growth = (100 * (end - base)) / base;
    const startRatio = s.p50 / b.p50;
    const leg = (name: string, x: ReturnType<typeof summarize>): Figure => ({
      id: 'B3',
      name: `${name}, p50 of ${x.n} sales`,
      value: round(x.p50),
      unit: 'ms',
      target: '<= 5',
      met: x.p50 <= 5,
      limit: `p99 ${round(x.p99)} ms; floor ${round(floor)} ms (one pty hop p50 ${round(floors.pty.p50)} ms + one loopback hop p50 ${round(floors.tcp.p50)} ms)`,
      at5ms: `${round(at5msFsync(x.p50, FSYNCS_PER_LEG, fsyncMs), 2)} ms`,
    });
    const figures: Figure[] = [
      leg('card data in -> 0200 out', a),
      leg('0210 in -> receipt bytes out', r),
      {
        id: 'B4',
        name: `start to ready / bare node, p50 of ${warm.length} warm starts`,
        value: round(startRatio, 2),
        unit: 'x',
        target: '<= 2',
        met: startRatio <= 2,
        limit: `start p50 ${round(s.p50, 1)} ms, p99 ${round(s.p99, 1)} ms; bare node with better-sqlite3 + serialport p50 ${round(b.p50, 1)} ms; first start (creates the database) ${round(starts[0]!.ms, 1)} ms`,
        at5ms:
          fsyncsAtStart === undefined
            ? 'not projected (strace absent)'
            : `${round(at5msFsync(s.p50, fsyncsAtStart, fsyncMs) / b.p50, 2)} x (${fsyncsAtStart} fsyncs)`,
      },
      {
        id: 'B4',
        name: `RSS at ready, p50 of ${warm.length} warm starts (Node ${process.versions.node})`,
        value: round(readyRss.p50, 1),
        unit: 'MB',
        target: `<= ${RSS_BUDGET_MB}`,
        met: readyRss.p50 <= RSS_BUDGET_MB,
        limit: `bare node with better-sqlite3 + serialport ${round(bareRss.p50, 1)} MB; ${rssAtEnd} MB after ${TOTAL_SALES} sales`,
        at5ms: '-',
      },
      {
        id: 'B4',
        name: `JS heap after GC, growth ${BASE_SALES} -> ${TOTAL_SALES} sales`,
        value: round(growth, 2),
        unit: '%',
        target: '<= 5',
        met: growth <= 5,
        limit: `0 % (no leak); heap after GC ${heap.map((h) => `${h.mb} MB at ${h.sales}`).join(', ')}`,
        at5ms: '-',
      },
    ];
    return {
      figures,
      detail: {
        startsMs: starts.map((x) => round(x.ms, 1)),
        readyRssMb: starts.map((x) => round(x.rssMb, 1)),
        firstStartCreatesDatabase: true,
        bareNode: { ms: b, rssMb: bareRss },
        fsyncsAtWarmStart: fsyncsAtStart ?? 'not measured',
        transitFloors: floors,
        cardTo0200Ms: a,
        answerToReceiptMs: r,
        timedSales: TIMED_SALES,
        printerWireBaudDuringTimedSales: receiptBaud,
        heapAfterGcMb: heap,
        rssAfterAllSalesMb: rssAtEnd,
        salesPerSecondDuringMemoryRun: round(salesPerSecond, 1),
        notApprovedOrNotPrinted: notApproved,
        boundaries:
          'card: reader sim emits card-read as it writes the READ answer; 0200: host sim request observer; 0210: after the host wrote its answer; receipt: first non-status chunk off the printer pty',
      },
    };
  } finally {
    await sim.stop();
  }
}
