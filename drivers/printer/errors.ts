import { PosError } from '../base/errors.js';
import type { PrinterStatus } from './status.js';

export class PrinterTimeoutError extends PosError {
  constructor(what: string, timeoutMs: number) {
    super('PRINTER_TIMEOUT', `printer did not answer ${what} within ${timeoutMs} ms`, { what, timeoutMs });
  }
}

export class PrinterDisconnectedError extends PosError {
  constructor(path: string, reason: string) {
    super('PRINTER_DISCONNECTED', `printer on ${path} is disconnected: ${reason}`, { path, reason });
  }
}

/** The printer reported a condition that stops printing (paper out, cover open, offline, error). */
export class PrinterNotReadyError extends PosError {
  readonly status: PrinterStatus;
  constructor(phase: 'before' | 'after', status: PrinterStatus, described: string) {
    super('PRINTER_NOT_READY', `printer not ready ${phase} the job: ${described}`, { phase, status: described });
    this.status = status;
  }
}
