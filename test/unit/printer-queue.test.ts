import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Clock, TimerHandle } from '../../drivers/base/clock.js';
import { silentLogger, type Logger } from '../../drivers/base/logger.js';
import { PrinterNotReadyError, PrinterTimeoutError } from '../../drivers/printer/errors.js';
import { describeStatus, isClean, type PrinterStatus } from '../../drivers/printer/status.js';
import { Journal } from '../../firmware-app/payments/journal.js';
import { PrintQueue, type PrinterPort } from '../../firmware-app/printing/queue.js';
import { NothingToReprintError, ReceiptJobs } from '../../firmware-app/printing/receipts.js';
import { openDatabase, type Db } from '../../firmware-app/store/db.js';
import { decodeToText } from '../../sim/printer/escpos-decoder.js';
import { receiptForTransaction } from '../../firmware-app/receipts/from-transaction.js';
import { layoutReceipt, renderReceipt } from '../../firmware-app/receipts/layout.js';
import { storeOf } from '../support/store.js';

/** A clock whose time only moves when the test says so. */
class ManualClock implements Clock {
  private t = 1_800_000_000_000;
  private timers: Array<{ at: number; fn: () => void; handle: TimerHandle }> = [];
  now(): number {
    return this.t;
  }
  setTimeout(fn: () => void, ms: number): TimerHandle {
    const handle: TimerHandle = {};
    this.timers.push({ at: this.t + ms, fn, handle });
    return handle;
  }
  clearTimeout(handle: TimerHandle): void {
    this.timers = this.timers.filter((x) => x.handle !== handle);
  }
  get pendingTimers(): number {
    return this.timers.length;
  }
  /** Moves time forward, firing due timers, and lets the promises they start settle. */
  async advance(ms: number): Promise<void> {
    this.t += ms;
    for (;;) {
      const due = this.timers.filter((x) => x.at <= this.t);
      if (due.length === 0) break;
      this.timers = this.timers.filter((x) => x.at > this.t);
      for (const x of due) x.fn();
      await settle();
    }
    await settle();
  }
}

/** Lets every promise chain started so far run to its end (no time passes). */
const settle = async () => {
  for (let i = 0; i < 5; i++) await new Promise<void>((resolve) => setImmediate(resolve));
};

const READY: PrinterStatus = {
  online: true,
  coverOpen: false,
  paperNearEnd: false,
  paperEnd: false,
  cutterError: false,
  unrecoverableError: false,
  autoRecoverableError: false,
  recoverableError: false,
  drawerOpen: false,
};
const PAPER_OUT: PrinterStatus = { ...READY, online: false, paperEnd: true, paperNearEnd: true };

/** A printer scripted per call: what it answers before and after each job, and what it printed. */
class FakePrinter implements PrinterPort {
  connected = true;
  status: PrinterStatus = READY;
  /** Status the next job ends in (e.g. paper runs out during it); consumed by that job. */
  endsWith: PrinterStatus | undefined;
  silent = false;
  readonly printed: Buffer[] = [];
  readonly sent: Buffer[] = [];
  async connect(): Promise<void> {
    this.connected = true;
  }
  async queryStatus(): Promise<PrinterStatus> {
    if (this.silent) throw new PrinterTimeoutError('DLE EOT 1', 1000);
    return this.status;
  }
  async print(bytes: Buffer | (() => Buffer)): Promise<PrinterStatus> {
    const before = await this.queryStatus();
    const job = typeof bytes === 'function' ? bytes() : bytes;
    if (!isClean(before)) throw new PrinterNotReadyError('before', before, describeStatus(before));
    this.sent.push(job);
    if (this.endsWith) {
      this.status = this.endsWith;
      this.endsWith = undefined;
    }
    const after = await this.queryStatus();
    if (!isClean(after)) throw new PrinterNotReadyError('after', after, describeStatus(after));
    this.printed.push(job);
    return after;
  }
}

const dbs: Db[] = [];
afterEach(() => {
  for (const db of dbs.splice(0)) db.close();
});

function setup(opts: { merchantCopy?: boolean; eReceiptUrl?: string; logger?: Logger } = {}) {
  const db = openDatabase(join(mkdtempSync(join(tmpdir(), 'pos-print-')), 'pos.db'));
  dbs.push(db);
  const clock = new ManualClock();
  const printer = new FakePrinter();
  const queue = new PrintQueue({ store: storeOf(db), printer, clock, logger: silentLogger, options: { pollIntervalMs: 2000 } });
  const journal = new Journal(storeOf(db), clock);
  const receipts = new ReceiptJobs(queue, {
    language: 'en',
    merchantName: 'Demo Store',
    terminalId: 'TERM0001',
    merchantId: '000000000000001',
    eReceiptUrl: opts.eReceiptUrl ?? '',
    widthMm: 58,
    merchantCopy: opts.merchantCopy ?? true,
    logger: opts.logger,
  });
  receipts.attach(journal);
  return { db, clock, printer, queue, journal, receipts };
}

function approve(journal: Journal, amount = 1234, stan = '000001') {
  const txn = journal.create({ type: 'sale', amount, currency: 'CNY' });
  journal.transition(txn.id, 'card_read', { last4: '1111', maskedPan: '411111******1111', entryMode: 'CTLS' });
  journal.transition(txn.id, 'online_sent', { stan, stanDay: '1123' });
  return journal.transition(txn.id, 'approved', { authCode: 'A1B2C3', rrn: '123456789012', responseCode: '00' });
}

const text = (b: Buffer) => decodeToText(b).pages.join('');

describe('receipts are queued with the result they print', () => {
  it('queues a merchant and a customer copy in the transaction that commits an approval', async () => {
    const { queue, journal } = setup();
    const txn = approve(journal);
    const jobs = queue.jobsFor(txn.id);
    expect(jobs.map((j) => [j.kind, j.copy, j.state])).toEqual([
      ['receipt', 'merchant', 'queued'],
      ['receipt', 'customer', 'queued'],
    ]);
    expect(text(await queue.bytes(jobs[1]!))).toContain('CUSTOMER COPY');
    expect(text(await queue.bytes(jobs[1]!))).toContain('**** **** **** 1111');
  });

  it('writes no job when the result is rolled back', () => {
    const { db, queue, journal } = setup();
    const txn = journal.create({ type: 'sale', amount: 500, currency: 'CNY' });
    journal.transition(txn.id, 'card_read', { last4: '1111' });
    journal.transition(txn.id, 'online_sent', { stan: '000002', stanDay: '1123' });
    expect(() =>
      db.transaction(() => {
        journal.transition(txn.id, 'approved', { authCode: 'X' });
        throw new Error('power cut before commit');
      })(),
    ).toThrow('power cut');
    expect(journal.get(txn.id).state).toBe('online_sent');
    expect(queue.pending()).toEqual([]);
  });

  it('prints one decline slip with the reason, and none when no card was read', async () => {
    const { queue, journal } = setup();
    const noCard = journal.create({ type: 'sale', amount: 500, currency: 'CNY' });
    journal.transition(noCard.id, 'declined_local', { declineCode: 'READER_NO_CARD' });
    expect(queue.jobsFor(noCard.id)).toEqual([]);

    const txn = journal.create({ type: 'sale', amount: 500, currency: 'CNY' });
    journal.transition(txn.id, 'card_read', { last4: '4242' });
    journal.transition(txn.id, 'online_sent', { stan: '000003', stanDay: '1123' });
    journal.transition(txn.id, 'declined', { responseCode: '51', declineCode: '51' });
    const jobs = queue.jobsFor(txn.id);
    expect(jobs.map((j) => j.copy)).toEqual(['customer']);
    expect(text(await queue.bytes(jobs[0]!))).toMatch(/DECLINED[\s\S]*REASON\s+Insufficient funds/);
  });

  it('prints nothing when a sale goes back to approved after a failed void', () => {
    const { queue, journal } = setup();
    const txn = approve(journal);
    journal.transition(txn.id, 'void_pending');
    journal.transition(txn.id, 'approved');
    expect(queue.jobsFor(txn.id)).toHaveLength(2);
  });

  it('prints only the customer copy when merchant copies are off', () => {
    const { queue, journal } = setup({ merchantCopy: false });
    expect(queue.jobsFor(approve(journal).id).map((j) => j.copy)).toEqual(['customer']);
  });

  it('prints slips in the language the cashier switched to, from the next slip on', async () => {
    const { queue, journal, receipts } = setup({ merchantCopy: false });
    const before = approve(journal);
    receipts.setLanguage('zh-CN');
    const after = approve(journal, 880, '000002');
    expect(text(await queue.bytes(queue.jobsFor(before.id)[0]!))).toContain('CUSTOMER COPY');
    const zh = text(await queue.bytes(queue.jobsFor(after.id)[0]!));
    expect(zh).toMatch(/金额\s+￥8\.80\n/);
    expect(zh).toContain('持卡人存根');
    expect(zh).not.toContain('COPY');
  });

  it('leaves an e-receipt QR code too large for the paper off the slip, with a log line saying so', async () => {
    const warnings: unknown[] = [];
    const logger: Logger = { ...silentLogger, warn: (obj: object | string, msg?: string) => void warnings.push([obj, msg]) };
    const { queue, journal } = setup({ merchantCopy: false, eReceiptUrl: `https://r.example/${'x'.repeat(1500)}/`, logger });
    const txn = approve(journal);
    expect(decodeToText(await queue.bytes(queue.jobsFor(txn.id)[0]!)).qr).toEqual([]);
    expect(warnings).toEqual([
      [{ transactionId: txn.id, bytes: 1555, widthMm: 58 }, 'e-receipt QR code left off the slip: too large for the paper'],
    ]);
  });

  it('reprints any past receipt from the journal, marked REPRINT, and refuses a payment with no result', async () => {
    const { queue, journal, receipts } = setup();
    const txn = approve(journal);
    const job = receipts.reprint(journal.get(txn.id));
    expect(job.kind).toBe('reprint');
    const printed = text(await queue.bytes(queue.get(job.id)));
    expect(printed).toContain('*** REPRINT ***');
    expect(printed).toMatch(/AUTH NO\.\s+A1B2C3/);
    const open = journal.create({ type: 'sale', amount: 100, currency: 'CNY' });
    expect(() => receipts.reprint(open)).toThrow(NothingToReprintError);
  });
});

describe('slips rendered when they print', () => {
  it('prints after a restart the slip the result showed, byte for byte, though the payment moved on and the language changed', async () => {
    const { db, journal, receipts } = setup();
    const approved = approve(journal);
    const context = {
      language: 'en',
      merchantName: 'Demo Store',
      terminalId: 'TERM0001',
      merchantId: '000000000000001',
      eReceiptUrl: '',
    } as const;
    const expected = (['merchant', 'customer'] as const).map((copy) =>
      renderReceipt(layoutReceipt(receiptForTransaction(approved, context, copy)), 58),
    );
    receipts.setLanguage('zh-CN');
    journal.transition(approved.id, 'void_pending');
    journal.transition(approved.id, 'voided');
    const file = db.name;
    db.close();

    const reopened = openDatabase(file);
    dbs.push(reopened);
    const printer = new FakePrinter();
    const queue = new PrintQueue({
      store: storeOf(reopened),
      printer,
      clock: new ManualClock(),
      logger: silentLogger,
      options: { pollIntervalMs: 2000 },
    });
    await queue.start();
    expect(printer.printed.slice(0, 2)).toEqual(expected);
    expect(text(printer.printed[1]!)).toMatch(/APPROVED[\s\S]*CUSTOMER COPY/);
  });

  it('marks a reprint REPRINT with what the journal says at the time of the reprint', async () => {
    const { journal, receipts, queue, printer } = setup({ merchantCopy: false });
    const txn = approve(journal);
    await queue.drain();
    journal.transition(txn.id, 'void_pending');
    journal.transition(txn.id, 'voided');
    const job = receipts.reprint(journal.get(txn.id));
    await queue.drain();
    const reprinted = text(printer.printed.at(-1)!);
    expect(reprinted).toContain('*** REPRINT ***');
    expect(reprinted).toContain('VOIDED');
    expect(queue.get(job.id).state).toBe('printed');
  });
});

describe('the print queue', () => {
  it('marks a job printed only when the status after it is clean', async () => {
    const { queue, printer, journal } = setup({ merchantCopy: false });
    const txn = approve(journal);
    const [job] = queue.jobsFor(txn.id);
    const result = await queue.drain();
    expect(result).toEqual({ printed: [job!.id], waiting: 0 });
    expect(queue.get(job!.id)).toMatchObject({ state: 'printed', attempts: 1 });
    expect(printer.printed).toHaveLength(1);
    expect(queue.state).toEqual({ printer: 'ready', pending: 0 });
  });

  it('keeps a job that ran out of paper, shows "paper out", and reprints it once when paper is back', async () => {
    const { queue, printer, journal, clock } = setup({ merchantCopy: false });
    await queue.start();
    printer.endsWith = PAPER_OUT;
    const txn = approve(journal);
    const [job] = queue.jobsFor(txn.id);
    const report = await queue.report(job!.id);
    expect(report).toMatchObject({ printed: false, printer: 'paper out', error: { code: 'PRINTER_NOT_READY' } });
    expect(queue.get(job!.id)).toMatchObject({ state: 'queued', attempts: 1 });
    expect(queue.state).toMatchObject({ printer: 'paper out', pending: 1 });
    expect(printer.sent).toHaveLength(1);

    // Still out of paper: the poll only asks, it sends nothing.
    await clock.advance(2000);
    expect(printer.sent).toHaveLength(1);
    expect(queue.state.printer).toBe('paper out');

    const printedEvents: number[] = [];
    queue.on('printed', (j: { id: number }) => printedEvents.push(j.id));
    printer.status = READY;
    await clock.advance(2000);
    expect(printedEvents).toEqual([job!.id]);
    expect(printer.printed).toEqual([await queue.bytes(job!)]);
    expect(queue.get(job!.id)).toMatchObject({ state: 'printed', attempts: 2 });
    expect(queue.state).toEqual({ printer: 'ready', pending: 0 });
    // Nothing waits, so nothing polls.
    expect(clock.pendingTimers).toBe(0);
  });

  it('prints in order: jobs behind a stopped one wait with it and are reported as waiting', async () => {
    const { queue, printer, journal } = setup();
    printer.status = { ...READY, coverOpen: true, online: false };
    await queue.start();
    const txn = approve(journal);
    const [merchant, customer] = queue.jobsFor(txn.id);
    const report = await queue.report(customer!.id);
    expect(report).toMatchObject({ printed: false, printer: 'cover open' });
    expect(queue.get(merchant!.id).attempts).toBe(1);
    expect(queue.get(customer!.id).attempts).toBe(0);
    expect(printer.sent).toHaveLength(0);
  });

  it('reports a printer that does not answer as a typed timeout and keeps the job', async () => {
    const { queue, printer, journal } = setup({ merchantCopy: false });
    printer.silent = true;
    await queue.start();
    const [job] = queue.jobsFor(approve(journal).id);
    const report = await queue.report(job!.id);
    expect(report).toMatchObject({ printed: false, printer: 'not answering', error: { code: 'PRINTER_TIMEOUT' } });
    expect(queue.pending().map((j) => j.id)).toEqual([job!.id]);
  });

  it('resumes jobs left queued by a previous run when it starts', async () => {
    const { queue, printer, journal } = setup({ merchantCopy: false });
    const [job] = queue.jobsFor(approve(journal).id);
    expect(printer.printed).toHaveLength(0);
    await queue.start();
    expect(queue.get(job!.id).state).toBe('printed');
  });

  it('starts with jobs waiting and no paper: polls without sending, prints when paper is loaded', async () => {
    const { queue, printer, journal, clock } = setup({ merchantCopy: false });
    const [job] = queue.jobsFor(approve(journal).id);
    printer.status = PAPER_OUT;
    await queue.start();
    await clock.advance(0);
    expect(printer.sent).toHaveLength(0);
    expect(queue.state).toMatchObject({ printer: 'paper out', pending: 1 });
    printer.status = READY;
    await clock.advance(2000);
    expect(queue.get(job!.id).state).toBe('printed');
  });

  it('keeps one drain going while slips keep coming, however many reports are asked for, and settles every report', async () => {
    const { queue, printer } = setup({ merchantCopy: false });
    // Each slip takes until the test lets it go, so the queue stays busy while more arrive.
    const gates: Array<() => void> = [];
    const print = printer.print.bind(printer);
    printer.print = async (bytes) => {
      await new Promise<void>((resolve) => gates.push(resolve));
      return print(bytes);
    };
    await queue.start();
    const reports: Array<Promise<{ printed: boolean }>> = [];
    for (let i = 0; i < 30; i++) {
      const job = queue.enqueue({ kind: 'report', payload: Buffer.from(`slip ${i}\n`) });
      reports.push(queue.report(job.id));
      await settle();
    }
    // A drain per report used to listen for 'printed' until the queue went idle: 30 here.
    expect(queue.listenerCount('printed')).toBeLessThanOrEqual(2);
    while (gates.length > 0) {
      gates.shift()!();
      await settle();
    }
    const settled = await Promise.all(reports);
    expect(settled.filter((r) => !r.printed)).toEqual([]);
    expect(printer.printed).toHaveLength(30);
  });

  it('takes jobs from other producers (a settlement report) through enqueue', async () => {
    const { queue, printer } = setup();
    await queue.start();
    const job = queue.enqueue({ kind: 'settlement', payload: Buffer.from('REPORT\n') });
    expect(queue.pending().map((j) => j.id)).toEqual([job.id]);
    expect(await queue.report(job.id)).toEqual({ printed: true, jobId: job.id });
    expect(printer.printed).toEqual([Buffer.from('REPORT\n')]);
  });
});
