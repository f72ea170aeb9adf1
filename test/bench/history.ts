import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { parseConfig } from '../../firmware-app/config/load.js';
import { localDay } from '../../firmware-app/host/messages.js';
import { layoutReceipt, renderReceipt } from '../../firmware-app/receipts/layout.js';
import { openDatabase } from '../../firmware-app/store/db.js';
import { compose, type App } from '../../firmware-app/compose.js';
import { Simulator } from '../../sim/index.js';
import { at5msFsync, type Figure } from './report.js';
import { benchLogger, now, simulatedCardRead } from './rig.js';
import { round, summarize } from './stats.js';

export const PAST_TRANSACTIONS = 100_000;
const DAYS = 30;
const WARM_UP = 20;
const TIMED = 300;

/**
 * A journal with `count` past sales spread over the last 30 days, as a busy terminal holds
 * them: each with its events and slips; one in ten declined with its upstream report, one
 * in twenty approved offline and forwarded. Written straight into the tables, in one go.
 */
function seedHistory(file: string, count: number): void {
  const db = openDatabase(file);
  const card = simulatedCardRead();
  const slip = renderReceipt(
    layoutReceipt({
      language: 'en',
      merchantName: 'BENCH STORE',
      terminalId: 'TERM0001',
      merchantId: '000000000000001',
      at: new Date(),
      type: 'sale',
      amount: 1234,
      currency: 'CNY',
      last4: card.last4,
      entryMode: card.entryMode,
      authCode: 'A00001',
      rrn: '000000000001',
      stan: '000001',
      result: 'APPROVED',
      copy: 'customer',
    }),
    58,
  );
  const txn = db.prepare(
    `INSERT INTO transactions (uuid, type, state, amount, currency, stan, stan_day, transmitted_at, masked_pan, last4, pan_token,
       entry_mode, auth_code, rrn, response_code, decline_code, batch_number, created_at, updated_at)
     VALUES (?, 'sale', ?, ?, 'CNY', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  const event = db.prepare(`INSERT INTO transaction_events (transaction_id, from_state, to_state, at, detail) VALUES (?, ?, ?, ?, ?)`);
  const printJob = db.prepare(
    `INSERT INTO print_jobs (transaction_id, kind, copy, payload, state, attempts, created_at, updated_at, printed_at)
     VALUES (?, 'receipt', ?, ?, 'printed', 1, ?, ?, ?)`,
  );
  const outbox = db.prepare(
    `INSERT INTO outbox (event_id, type, payload, created_at, attempts, next_attempt_at, delivered_at) VALUES (?, 'decline', ?, ?, 1, ?, ?)`,
  );
  const saf = db.prepare(
    `INSERT INTO saf_queue (transaction_id, encrypted_blob, expiry, state, attempts, sends, next_attempt_at, last_response_code, queued_at, updated_at)
     VALUES (?, ?, ?, 'forwarded', 1, 1, ?, '00', ?, ?)`,
  );
  const batch = db.prepare(`INSERT INTO batches (number, state, opened_at, closed_at) VALUES (?, ?, ?, ?)`);
  const end = Date.now() - 3_600_000;
  const start = end - DAYS * 86_400_000;
  db.transaction(() => {
    for (let day = 1; day <= DAYS; day++) batch.run(day, 'closed', start + (day - 1) * 86_400_000, start + day * 86_400_000);
    batch.run(DAYS + 1, 'open', end, null);
    for (let i = 0; i < count; i++) {
      const at = Math.floor(start + ((end - start) * i) / count);
      const declined = i % 10 === 9;
      const offline = i % 20 === 3;
      const state = declined ? 'declined' : offline ? 'forwarded_approved' : 'approved';
      const stan = String(i + 1).padStart(6, '0');
      const id = Number(
        txn.run(
          randomUUID(),
          state,
          100 + (i % 5000),
          stan,
          localDay(new Date(at)),
          new Date(at).toISOString(),
          card.maskedPan,
          card.last4,
          card.panToken,
          card.entryMode,
          declined ? null : `A${stan.slice(1)}`,
          declined ? null : stan.padStart(12, '0'),
          declined ? '51' : '00',
          declined ? '51' : null,
          1 + Math.floor((at - start) / 86_400_000),
          at,
          at + 900,
        ).lastInsertRowid,
      );
      const path = offline
        ? ['created', 'card_read', 'offline_approved', 'forwarded_approved']
        : ['created', 'card_read', 'online_sent', declined ? 'declined' : 'approved'];
      path.forEach((to, k) => event.run(id, k === 0 ? null : path[k - 1], to, at + k * 300, k === 0 ? '{"amount":100}' : null));
      for (const copy of declined ? ['customer'] : ['merchant', 'customer']) printJob.run(id, copy, slip, at + 900, at + 1500, at + 1500);
      if (declined) outbox.run(`decline:${i}`, JSON.stringify({ code: '51', stan }), at + 900, at + 900, at + 1200);
      if (offline) saf.run(id, card.encryptedBlob, card.expiry, at, at, at + 60_000);
    }
    db.prepare(`UPDATE counters SET value = ? WHERE name = 'stan'`).run(count % 999_999);
    db.prepare(`UPDATE counters SET value = ? WHERE name = 'batch'`).run(DAYS + 1);
  }).immediate();
  db.pragma('wal_checkpoint(TRUNCATE)');
  db.close();
}

async function saleTerminal(workDir: string, name: string, id: string): Promise<{ sim: Simulator; terminal: App; close(): Promise<void> }> {
  const sim = await Simulator.start({ dir: join(workDir, `${name}-sim`), tapDelayMs: 0 });
  // The printer takes bytes as fast as the pty does: the figure is the terminal's, not the paper's.
  sim.printer.wireBaudRate = 0;
  const ep = sim.endpoints;
  const config = parseConfig({
    dataDir: join(workDir, name),
    terminal: { id },
    reader: { path: ep.readerPath },
    printer: { path: ep.printerPath },
    host: { address: ep.hostAddress, port: ep.hostPort },
    diagnostics: { controlSocket: '' },
  });
  const logger = benchLogger(config);
  const terminal = compose(config, { logger });
  await terminal.start();
  return {
    sim,
    terminal,
    close: async () => {
      await terminal.stop();
      logger.close();
      await sim.stop();
    },
  };
}

/**
 * Flat in history: the same online sale, through the whole terminal against the simulator
 * (reader and printer on ptys, host on loopback), on an empty journal and on one holding
 * 100,000 past sales, one sale on each in turn so both see the same machine.
 */
export async function history(
  workDir: string,
  floors: { fsyncMs: number; fsyncsPerSale: number | undefined },
): Promise<{ figures: Figure[]; detail: Record<string, unknown> }> {
  const t0 = now();
  const historyDir = join(workDir, 'history');
  seedHistory(join(historyDir, 'pos-companion.db'), PAST_TRANSACTIONS);
  const seedSeconds = (now() - t0) / 1000;
  const empty = await saleTerminal(workDir, 'empty', 'FLATEMPT');
  const full = await saleTerminal(workDir, 'history', 'FLATHIST');
  const times = { empty: [] as number[], full: [] as number[] };
  try {
    for (let i = 0; i < WARM_UP + TIMED; i++) {
      for (const [side, rig] of [
        ['empty', empty],
        ['full', full],
      ] as const) {
        const s0 = now();
        const outcome = await rig.terminal.terminal.sale(100 + i);
        const ms = now() - s0;
        if (outcome.result !== 'approved' || !outcome.printed)
          throw new Error(`history bench sale: ${outcome.result}, printed ${outcome.printed}`);
        if (i >= WARM_UP) times[side].push(ms);
        rig.sim.printer.receipts.length = 0;
      }
    }
  } finally {
    await empty.close();
    await full.close();
  }
  const e = summarize(times.empty);
  const f = summarize(times.full);
  const ratio = f.p50 / e.p50;
  const fsyncs = floors.fsyncsPerSale;
  const at5 =
    fsyncs === undefined
      ? 'not projected (fsyncs not measured)'
      : `${round(at5msFsync(f.p50, fsyncs, floors.fsyncMs) / at5msFsync(e.p50, fsyncs, floors.fsyncMs), 2)} x (${round(at5msFsync(f.p50, fsyncs, floors.fsyncMs), 1)} ms a sale)`;
  return {
    figures: [
      {
        id: 'H',
        name: `online sale with ${PAST_TRANSACTIONS.toLocaleString('en')} past sales / on an empty journal, p50`,
        value: round(ratio, 2),
        unit: 'x',
        target: '<= 1.2',
        met: ratio <= 1.2,
        limit: `empty p50 ${round(e.p50)} ms, p99 ${round(e.p99)} ms; history p50 ${round(f.p50)} ms, p99 ${round(f.p99)} ms (${TIMED} each, interleaved)`,
        at5ms: at5,
      },
    ],
    detail: { emptyMs: e, historyMs: f, pastTransactions: PAST_TRANSACTIONS, seedSeconds: round(seedSeconds, 1) },
  };
}
