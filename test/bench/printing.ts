import { join } from 'node:path';
import { layoutReceipt, renderReceipt } from '../../firmware-app/receipts/layout.js';
import { PrinterSim } from '../../sim/printer/printer-sim.js';
import { PtyPair } from '../../sim/pty.js';
import { at5msFsync, type Figure } from './report.js';
import { benchConfig, idleTerminal, now } from './rig.js';
import { round, summarize } from './stats.js';

const PRINTS = 20;
/** The job's row committed when queued, its outcome committed when printed. */
const FSYNCS_PER_JOB = 2;

/**
 * B5: a typical receipt through the product's print queue and printer driver to the printer
 * simulator on a real pty, whose wire model takes bytes in no faster than the configured
 * baud rate. Time from queuing the job to the queue reporting it printed (status checked
 * before and after, the outcome committed), divided by the receipt's own wire time.
 */
export async function printing(workDir: string, fsyncMs: number): Promise<{ figures: Figure[]; detail: Record<string, unknown> }> {
  const dir = join(workDir, 'b5');
  const pty = new PtyPair(join(workDir, 'b5-printer'), join(workDir, 'b5-printer.sim'));
  await pty.start();
  const config = benchConfig(dir, { printer: { path: pty.devicePath } });
  const baud = config.printer.baudRate;
  const sim = new PrinterSim({ path: pty.simPath, baudRate: baud });
  await sim.start();
  const { terminal, logger } = idleTerminal(config);
  try {
    await terminal.printing.start();
    const payload = renderReceipt(
      layoutReceipt({
        language: config.terminal.language,
        merchantName: config.terminal.merchantName,
        terminalId: config.terminal.id,
        merchantId: config.terminal.merchantId,
        at: new Date(),
        type: 'sale',
        amount: 1234,
        currency: config.terminal.currency,
        last4: '1111',
        entryMode: 'CHIP',
        authCode: 'A00001',
        rrn: '000000000001',
        stan: '000002',
        result: 'APPROVED',
        copy: 'customer',
      }),
      config.printer.widthMm,
    );
    const wireMs = (payload.length * 10 * 1000) / baud;
    const times: number[] = [];
    for (let i = 0; i < PRINTS; i++) {
      const t0 = now();
      const job = terminal.printing.enqueue({ kind: 'receipt', payload });
      const report = await terminal.printing.report(job.id);
      if (!report.printed) throw new Error(`bench receipt not printed: ${JSON.stringify(report)}`);
      times.push(now() - t0);
    }
    if (sim.receipts.length !== PRINTS) throw new Error(`printer sim saw ${sim.receipts.length} receipts, expected ${PRINTS}`);
    const t = summarize(times);
    const ratio = t.p50 / wireMs;
    return {
      figures: [
        {
          id: 'B5',
          name: `print a ${payload.length} B receipt / wire time, p50`,
          value: round(ratio, 2),
          unit: 'x',
          target: '<= 1.2',
          met: ratio <= 1.2,
          limit: `wire time ${round(wireMs, 1)} ms at ${baud} baud (print p50 ${round(t.p50, 1)} ms, p99 ${round(t.p99, 1)} ms)`,
          at5ms: `${round(at5msFsync(t.p50, FSYNCS_PER_JOB, fsyncMs) / wireMs, 2)} x`,
        },
      ],
      detail: { receiptBytes: payload.length, baud, wireMs: round(wireMs), printMs: t, ratioP99: round(t.p99 / wireMs, 2) },
    };
  } finally {
    await terminal.stop();
    logger.close();
    await sim.stop();
    await pty.stop();
  }
}
