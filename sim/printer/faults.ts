import { SimError } from '../errors.js';
import type { PrinterSim } from './printer-sim.js';

export class PrinterFaultError extends SimError {
  constructor(command: string) {
    super('SIM_PRINTER_FAULT_UNKNOWN', `unknown printer fault "${command}"; one of: ${PRINTER_FAULTS.join(', ')}`, { command });
  }
}

/** The printer faults `npm run sim` accepts, as flags at start and as commands typed while it runs. */
export const PRINTER_FAULTS = [
  'paper-out',
  'paper-out-after <bytes>',
  'paper-in',
  'cover-open',
  'cover-close',
  'offline',
  'online',
  'silent',
  'answer',
] as const;

/** Applies one fault command ("paper-out-after 400", "cover-open" ...) and says what changed. */
export function applyPrinterFault(printer: PrinterSim, command: string): string {
  const [name, arg] = command.trim().split(/\s+/);
  switch (name) {
    case 'paper-out':
      printer.setPaperOut(true);
      return 'printer: paper out';
    case 'paper-out-after': {
      const bytes = Number(arg);
      if (!Number.isInteger(bytes) || bytes < 0) throw new PrinterFaultError(command);
      printer.runOutOfPaperAfter(bytes);
      return `printer: paper runs out after ${bytes} more bytes`;
    }
    case 'paper-in':
      printer.setPaperOut(false);
      return 'printer: paper loaded';
    case 'cover-open':
      printer.setCoverOpen(true);
      return 'printer: cover open';
    case 'cover-close':
      printer.setCoverOpen(false);
      return 'printer: cover closed';
    case 'offline':
      printer.setOffline(true);
      return 'printer: offline';
    case 'online':
      printer.setOffline(false);
      return 'printer: online';
    case 'silent':
      printer.silent = true;
      return 'printer: not answering';
    case 'answer':
      printer.silent = false;
      return 'printer: answering again';
    default:
      throw new PrinterFaultError(command);
  }
}
