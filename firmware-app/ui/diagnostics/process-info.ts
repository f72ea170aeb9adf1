import { closeSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import { scrubString } from '../../logging/redact.js';
import { formatDateTime } from '../format.js';

/* What the technician's screens read from the running process: its version, the log tail, the configuration with secrets masked. */

const SECRET_KEY = /pin|hash|secret|password|token|credential|apikey|api_key|privatekey/i;

/** The configuration as a technician may see it: every secret-looking value masked. */
export function maskSecrets(value: unknown, key = ''): unknown {
  if (SECRET_KEY.test(key) && value !== '' && value !== null && value !== undefined) return '********';
  if (Array.isArray(value)) return value.map((v) => maskSecrets(v));
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value as Record<string, unknown>).map(([k, v]) => [k, maskSecrets(v, k)]));
  }
  return value;
}

export function readVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../../../package.json', import.meta.url), 'utf8')) as { version?: string };
    return pkg.version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

/** Reads at most the last `maxBytes` of a file (a log tail must not load a whole log). */
export function tailFile(file: string, maxBytes: number): string {
  const size = statSync(file).size;
  const start = Math.max(0, size - maxBytes);
  const buf = Buffer.alloc(size - start);
  const fd = openSync(file, 'r');
  try {
    readSync(fd, buf, 0, buf.length, start);
  } finally {
    closeSync(fd);
  }
  return buf.toString('utf8');
}

/** One pino JSON line as a technician reads it: time, level, component, message. */
export function logLine(raw: string): string {
  try {
    const o = JSON.parse(raw) as { time?: number; level?: number; component?: string; msg?: string; err?: { message?: string } };
    const level = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' }[o.level ?? 30] ?? String(o.level);
    return scrubString(
      `${o.time ? formatDateTime(o.time).slice(11) : ''} ${level.padEnd(5)} ${(o.component ?? '-').padEnd(9)} ${o.msg ?? ''}${o.err?.message ? `: ${o.err.message}` : ''}`,
    );
  } catch {
    return scrubString(raw);
  }
}
