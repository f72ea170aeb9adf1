import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import pino from 'pino';
import type { Logger, LogLevel } from '../../drivers/base/logger.js';
import { scrubString, scrubValue } from './redact.js';

export type { Logger, LogLevel };

export interface LoggerOptions {
  level: LogLevel;
  /** 'stdout', or a file path. */
  destination: 'stdout' | { file: string };
}

class PinoLogger implements Logger {
  constructor(private readonly p: pino.Logger) {}

  private emit(level: Exclude<LogLevel, 'silent'>, obj: object | string, msg?: string): void {
    if (typeof obj === 'string') this.p[level](scrubString(obj));
    else this.p[level](scrubValue(obj) as object, msg === undefined ? undefined : scrubString(msg));
  }

  trace(obj: object | string, msg?: string): void { this.emit('trace', obj, msg); }
  debug(obj: object | string, msg?: string): void { this.emit('debug', obj, msg); }
  info(obj: object | string, msg?: string): void { this.emit('info', obj, msg); }
  warn(obj: object | string, msg?: string): void { this.emit('warn', obj, msg); }
  error(obj: object | string, msg?: string): void { this.emit('error', obj, msg); }
  fatal(obj: object | string, msg?: string): void { this.emit('fatal', obj, msg); }

  child(component: string): Logger {
    return new PinoLogger(this.p.child({ component }));
  }

  setLevel(level: LogLevel): void {
    this.p.level = level;
  }

  flush(): void {
    this.p.flush();
  }
}

export function createLogger(options: LoggerOptions): Logger {
  const dest =
    options.destination === 'stdout'
      ? pino.destination({ dest: 1, sync: true })
      : (mkdirSync(dirname(options.destination.file), { recursive: true }),
        pino.destination({ dest: options.destination.file, sync: true, mkdir: true }));
  return new PinoLogger(pino({ level: options.level, base: { pid: process.pid } }, dest));
}
