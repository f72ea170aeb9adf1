import pino from 'pino';
import type { Logger, LogLevel } from '../../drivers/base/logger.js';
import { scrubString, scrubValue } from './redact.js';
import { RotatingFileStream } from './rotating-file.js';

export type { Logger, LogLevel };

export const LOG_LEVELS: readonly LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

export interface LogFileOptions {
  file: string;
  /** Rotate when the file would grow past this size. */
  maxBytes: number;
  /** Rotated files kept. */
  maxFiles: number;
}

export interface LoggerOptions {
  level: LogLevel;
  /**
   * 'stdout' or 'stderr' (journald under systemd), or a size-rotated file. A file with no
   * rotation settings grows without bound: only for short-lived runs.
   */
  destination: 'stdout' | 'stderr' | LogFileOptions | { file: string };
}

/** The logger of a running process: its level can be changed at run time, for every component at once. */
export interface RootLogger extends Logger {
  readonly level: LogLevel;
  /** Closes a log file (stdout and stderr stay open). */
  close(): void;
}

/**
 * What a logger and every child created from it share, so one setLevel reaches them all.
 * pino itself stays at `trace` and the family filters: pino children copy their parent's
 * level once, at creation, and would not follow a later change.
 */
interface Family {
  level: LogLevel;
  threshold: number;
}

const SEVERITY: Record<LogLevel, number> = {
  trace: 10,
  debug: 20,
  info: 30,
  warn: 40,
  error: 50,
  fatal: 60,
  silent: Number.POSITIVE_INFINITY,
};

class PinoLogger implements Logger {
  constructor(
    private readonly p: pino.Logger,
    protected readonly family: Family,
  ) {}

  private emit(level: Exclude<LogLevel, 'silent'>, obj: object | string, msg?: string): void {
    if (SEVERITY[level] < this.family.threshold) return;
    if (typeof obj === 'string') this.p[level](scrubString(obj));
    else this.p[level](scrubValue(obj) as object, msg === undefined ? undefined : scrubString(msg));
  }

  trace(obj: object | string, msg?: string): void {
    this.emit('trace', obj, msg);
  }
  debug(obj: object | string, msg?: string): void {
    this.emit('debug', obj, msg);
  }
  info(obj: object | string, msg?: string): void {
    this.emit('info', obj, msg);
  }
  warn(obj: object | string, msg?: string): void {
    this.emit('warn', obj, msg);
  }
  error(obj: object | string, msg?: string): void {
    this.emit('error', obj, msg);
  }
  fatal(obj: object | string, msg?: string): void {
    this.emit('fatal', obj, msg);
  }

  isLevelEnabled(level: LogLevel): boolean {
    return SEVERITY[level] >= this.family.threshold;
  }

  child(component: string): Logger {
    return new PinoLogger(this.p.child({ component }), this.family);
  }

  /** Changes the level of the whole process: this logger, its parent and every child. */
  setLevel(level: LogLevel): void {
    if (!LOG_LEVELS.includes(level)) throw new RangeError(`unknown log level ${String(level)}`);
    this.family.level = level;
    this.family.threshold = SEVERITY[level];
  }

  get level(): LogLevel {
    return this.family.level;
  }

  flush(): void {
    this.p.flush();
  }
}

class RootPinoLogger extends PinoLogger implements RootLogger {
  constructor(
    p: pino.Logger,
    level: LogLevel,
    private readonly file: RotatingFileStream | undefined,
  ) {
    super(p, { level, threshold: SEVERITY[level] });
  }

  close(): void {
    this.file?.end();
  }
}

export function createLogger(options: LoggerOptions): RootLogger {
  const d = options.destination;
  const file =
    typeof d === 'object'
      ? new RotatingFileStream({
          file: d.file,
          maxBytes: 'maxBytes' in d ? d.maxBytes : Number.MAX_SAFE_INTEGER,
          maxFiles: 'maxFiles' in d ? d.maxFiles : 1,
        })
      : undefined;
  const dest = file ?? pino.destination({ dest: d === 'stderr' ? 2 : 1, sync: true });
  return new RootPinoLogger(pino({ level: 'trace', base: { pid: process.pid } }, dest), options.level, file);
}
