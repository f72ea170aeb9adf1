import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { CardReadResult } from '../../drivers/card-reader/types.js';
import { parseConfig } from '../../firmware-app/config/load.js';
import type { Config } from '../../firmware-app/config/schema.js';
import { createLogger, type RootLogger } from '../../firmware-app/logging/logger.js';
import type { PaymentCardReader } from '../../firmware-app/payments/sale.js';
import { resolveDataPath } from '../../firmware-app/terminal.js';
import { compose, type App } from '../../firmware-app/compose.js';
import { cardByName, DEFAULT_CARD, encryptCardData, maskPan, panToken } from '../../sim/cards.js';

export const now = (): number => performance.now();

/** Where the fsync child's marks point: a path that never exists, so the failed `access` is the mark in the trace. */
export const MARK_PREFIX = '/nonexistent/pos-bench-mark/';

/**
 * The configuration the bench runs with: the product defaults, except what each
 * measurement says it changes (paths, ports, and the offline caps that let 10,000 sales
 * queue). Logging stays at the production default (info, to a rotated file).
 */
export function benchConfig(dataDir: string, overrides: Record<string, Record<string, unknown>> = {}): Config {
  mkdirSync(dataDir, { recursive: true });
  const base: Record<string, Record<string, unknown> | string> = {
    dataDir,
    reader: { path: join(dataDir, 'no-reader') },
    printer: { path: join(dataDir, 'no-printer') },
    host: { address: '127.0.0.1', port: 1 },
    diagnostics: { controlSocket: '' },
  };
  for (const [k, v] of Object.entries(overrides)) base[k] = { ...((base[k] as Record<string, unknown> | undefined) ?? {}), ...v };
  return parseConfig(base);
}

/** Writes a configuration file for the built process. */
export function writeConfigFile(dataDir: string, config: Record<string, unknown>): string {
  mkdirSync(dataDir, { recursive: true });
  const file = join(dataDir, 'config.json');
  writeFileSync(file, JSON.stringify({ dataDir, ...config }, null, 2));
  return file;
}

export function benchLogger(config: Config): RootLogger {
  return createLogger({
    level: config.log.level,
    destination: { file: resolveDataPath(config, config.log.file), maxBytes: config.log.maxBytes, maxFiles: config.log.maxFiles },
  });
}

/** The terminal's parts, built by the product's own composition (not started: no devices, link down). */
export function idleTerminal(config: Config): { terminal: App; logger: RootLogger } {
  const logger = benchLogger(config);
  const terminal = compose(config, { logger });
  return { terminal, logger };
}

/** A card read as the simulator's reader hands it over: masked PAN, token, and a blob the host sim can open. */
export function simulatedCardRead(): CardReadResult {
  const card = cardByName(DEFAULT_CARD);
  return {
    maskedPan: maskPan(card.pan),
    last4: card.pan.slice(-4),
    expiry: card.expiry,
    entryMode: card.entryMode,
    panToken: panToken(card.pan),
    encryptedBlob: encryptCardData({ pan: card.pan, expiry: card.expiry, entryMode: card.entryMode }),
    pinPolicy: card.pinPolicy,
  };
}

/** A reader that has the card at once: B1 times the store, not the serial line. */
export function instantReader(card: CardReadResult): PaymentCardReader {
  return {
    read: () => Promise.resolve(card),
    display: () => Promise.resolve(),
    pin: () => Promise.resolve({ bypassed: true }),
    cancel: () => Promise.resolve(),
  };
}
