/*
 * Shared primitives live in drivers/base because the dependency direction is
 * firmware-app -> drivers: both sides can use them without drivers importing the app.
 */
/** The logging seam every component receives; pino sits behind it. */
export interface Logger {
  trace(obj: object | string, msg?: string): void;
  debug(obj: object | string, msg?: string): void;
  info(obj: object | string, msg?: string): void;
  warn(obj: object | string, msg?: string): void;
  error(obj: object | string, msg?: string): void;
  fatal(obj: object | string, msg?: string): void;
  /** Whether a line at `level` would be written now: a caller asks before building a costly one (a message dump per request). */
  isLevelEnabled(level: LogLevel): boolean;
  child(component: string): Logger;
  setLevel(level: LogLevel): void;
  flush(): void;
}

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

/** A logger that drops everything, for unit tests. */
export const silentLogger: Logger = {
  trace() {},
  debug() {},
  info() {},
  warn() {},
  error() {},
  fatal() {},
  isLevelEnabled() {
    return false;
  },
  child() {
    return silentLogger;
  },
  setLevel() {},
  flush() {},
};
