import type { PaperWidth, ReceiptData } from './layout.js';

/**
 * A slip as its print job keeps it: what it says (the transaction as it was when the result
 * was shown, in the language then chosen, with its copy and reprint mark) and the paper it is
 * laid out for. Laying out and encoding a slip costs more than the rest of an approval's
 * transaction, so the job records this and the print queue renders it when it prints
 * (`render-slip.ts`, loaded at the first print): the same record gives the same bytes, before
 * a restart or after.
 */
export function slipRecord(data: ReceiptData, widthMm: PaperWidth): string {
  return JSON.stringify({ ...data, at: data.at.getTime(), widthMm });
}
