import type { EntryMode } from '../../drivers/card-reader/types.js';
import { CURRENCIES, type CurrencyCode } from '../core/money.js';
import { fmtN, type IsoMessage } from './iso8583/packager.js';

/** Field 3 processing codes. */
export const PROCESSING_CODE = { sale: '000000', refund: '200000' } as const;

/** Field 22 POS entry mode (PAN entry mode + PIN capability). */
export const ENTRY_MODE_CODE: Record<EntryMode, string> = { CHIP: '051', CTLS: '071', SWIPE: '901', MANUAL: '011' };

export interface TerminalIdentity {
  terminalId: string;
  merchantId: string;
  /** Field 24. */
  nii: string;
}

const pad2 = (n: number) => String(n).padStart(2, '0');

/** Field 7, MMDDhhmmss in UTC. */
export function transmissionDateTime(at: Date): string {
  return `${pad2(at.getUTCMonth() + 1)}${pad2(at.getUTCDate())}${pad2(at.getUTCHours())}${pad2(at.getUTCMinutes())}${pad2(at.getUTCSeconds())}`;
}

/** The local calendar day a STAN belongs to (YYYY-MM-DD). */
export function localDay(at: Date): string {
  return `${at.getFullYear()}-${pad2(at.getMonth() + 1)}-${pad2(at.getDate())}`;
}

export interface FinancialRequest {
  kind: 'sale' | 'refund';
  stan: string;
  amount: number;
  currency: CurrencyCode;
  at: Date;
  entryMode: EntryMode;
  expiry: string;
  encryptedBlob: Buffer;
  batchNumber: number;
}

/** 0200 sale or refund. The card travels only as the reader's encrypted blob (field 48). */
export function financialRequest(id: TerminalIdentity, r: FinancialRequest): IsoMessage {
  const fields = new Map<number, string | Buffer>([
    [3, PROCESSING_CODE[r.kind]],
    [4, fmtN(r.amount, 12)],
    [7, transmissionDateTime(r.at)],
    [11, r.stan],
    [12, `${pad2(r.at.getHours())}${pad2(r.at.getMinutes())}${pad2(r.at.getSeconds())}`],
    [13, `${pad2(r.at.getMonth() + 1)}${pad2(r.at.getDate())}`],
    [14, r.expiry],
    [22, ENTRY_MODE_CODE[r.entryMode]],
    [24, id.nii],
    [25, '00'],
    [41, id.terminalId],
    [42, id.merchantId],
    [48, r.encryptedBlob],
    [49, CURRENCIES[r.currency].numeric],
    [60, fmtN(r.batchNumber, 6)],
  ]);
  return { mti: '0200', fields };
}

export interface HostAnswer {
  responseCode: string;
  authCode: string | null;
  rrn: string | null;
}

export function readAnswer(msg: IsoMessage): HostAnswer {
  const text = (n: number) => {
    const v = msg.fields.get(n);
    return typeof v === 'string' ? v : null;
  };
  return { responseCode: text(39) ?? '', authCode: text(38)?.trim() || null, rrn: text(37)?.trim() || null };
}
