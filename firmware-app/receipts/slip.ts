import { PosError } from '../../drivers/base/errors.js';
import { layoutReceipt, renderReceipt, type PaperWidth, type ReceiptData } from './layout.js';

/**
 * A slip as its print job keeps it: what it says (the transaction as it was when the result
 * was shown, in the language then chosen, with its copy and reprint mark) and the paper it is
 * laid out for. Laying out and encoding a slip costs more than the rest of an approval's
 * transaction, so the job records this and the print queue renders it when it prints: the
 * same record gives the same bytes, before a restart or after.
 */
export function slipRecord(data: ReceiptData, widthMm: PaperWidth): string {
  return JSON.stringify({ ...data, at: data.at.getTime(), widthMm });
}

export class SlipRecordError extends PosError {
  constructor(reason: string) {
    super('PRINT_SLIP_UNREADABLE', `the print job's slip cannot be read: ${reason}`, {});
  }
}

/** The ESC/POS bytes of a slip record (`slipRecord`). */
export function renderSlip(record: string): Buffer {
  let parsed: unknown;
  try {
    parsed = JSON.parse(record);
  } catch {
    throw new SlipRecordError('not JSON');
  }
  const { widthMm, at, ...data } = parsed as Omit<ReceiptData, 'at'> & { at: number; widthMm: PaperWidth };
  if (typeof at !== 'number' || (widthMm !== 58 && widthMm !== 80)) throw new SlipRecordError('no date or paper width');
  return renderReceipt(layoutReceipt({ ...data, at: new Date(at) }), widthMm);
}
