import { accessSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parseConfig } from '../../firmware-app/config/load.js';
import { compose } from '../../firmware-app/compose.js';
import { benchLogger, MARK_PREFIX } from './rig.js';

/**
 * Runs under `strace -e trace=fsync,fdatasync,access,faccessat,faccessat2`: sales through a
 * whole terminal against the simulator whose endpoints the parent passes, with marks the
 * trace records between them (an `access` of a path that does not exist), so the parent
 * can count the fsyncs of each phase of each sale.
 * argv: dataDir, endpoints JSON, sales per kind.
 */
function mark(label: string): void {
  try {
    accessSync(`${MARK_PREFIX}${label}`);
  } catch {
    // The path never exists: the failed call is the mark.
  }
}

interface Endpoints {
  readerPath: string;
  printerPath: string;
  hostAddress: string;
  hostPort: number;
}

async function run(kind: 'online' | 'offline', dataDir: string, ep: Endpoints, sales: number): Promise<void> {
  const config = parseConfig({
    dataDir: join(dataDir, kind),
    terminal: { id: kind === 'online' ? 'FSYNCONL' : 'FSYNCOFF' },
    reader: { path: ep.readerPath },
    printer: { path: ep.printerPath },
    host: kind === 'online' ? { address: ep.hostAddress, port: ep.hostPort } : { address: '127.0.0.1', port: 1, connectTimeoutMs: 500 },
    diagnostics: { controlSocket: '' },
  });
  const logger = benchLogger(config);
  // Idle soon after the last sale, so the run ends with the checkpoint the terminal makes when idle.
  const terminal = compose(config, { logger, walCheckpoints: { pollMs: 100, idleMs: 1_000 } });
  await terminal.start();
  const wal = join(config.dataDir, 'pos-companion.db-wal');
  const walBytes = () => statSync(wal, { throwIfNoEntry: false })?.size ?? 0;
  // Start from an empty WAL: the start-up writes are not a sale's.
  while (walBytes() > 0) await new Promise((resolve) => setTimeout(resolve, 100));
  for (let i = 0; i < sales; i++) {
    mark(`${kind}-sale-${i}`);
    const outcome = await terminal.terminal.sale(100 + i, (p) => {
      if (p === 'done') mark(`${kind}-result-${i}`);
    });
    const expected = kind === 'online' ? 'approved' : 'offline_approved';
    if (outcome.result !== expected) throw new Error(`${kind} sale ${i}: ${outcome.result}`);
    while (terminal.printing.state.pending > 0) await new Promise((resolve) => setTimeout(resolve, 5));
  }
  mark(`${kind}-idle`);
  const walAtEnd = walBytes();
  while (walBytes() > 0) await new Promise((resolve) => setTimeout(resolve, 50));
  mark(`${kind}-checkpointed`);
  process.stdout.write(`${JSON.stringify({ kind, walBytes: walAtEnd })}\n`);
  await terminal.stop();
  logger.close();
}

const [dataDir, endpoints, perKind] = process.argv.slice(2);
const ep = JSON.parse(endpoints!) as Endpoints;
await run('online', dataDir!, ep, Number(perKind));
await run('offline', dataDir!, ep, Number(perKind));
