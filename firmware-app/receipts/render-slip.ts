import { PosError } from '../../drivers/base/errors.js';
import { layoutReceipt, renderReceipt, type PaperWidth, type ReceiptData } from './layout.js';

export class SlipRecordError extends PosError {
  constructor(reason: string) {
    super('PRINT_SLIP_UNREADABLE', `the print job's slip cannot be read: ${reason}`, {});
  }
}

/** The ESC/POS bytes of a slip record (`slipRecord` in `slip.ts`). */
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
