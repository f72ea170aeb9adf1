import type { EntryMode } from '../../drivers/card-reader/types.js';
import { CURRENCIES, type CurrencyCode } from '../core/money.js';
import { fmtN, type IsoMessage } from './iso8583/packager.js';

/** Field 3 processing codes. */
export const PROCESSING_CODE = { sale: '000000', refund: '200000', void: '020000' } as const;

/** Field 22 POS entry mode (PAN entry mode + PIN capability: `1`, the reader's PIN pad and the engine's PIN step, host-iso8583.md 4.7). */
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

/** Field 12, hhmmss in terminal local time. */
export function localTime(at: Date): string {
  return `${pad2(at.getHours())}${pad2(at.getMinutes())}${pad2(at.getSeconds())}`;
}

/** Field 13, MMDD in terminal local time. */
export function localDate(at: Date): string {
  return `${pad2(at.getMonth() + 1)}${pad2(at.getDate())}`;
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
  /** EMV data from a chip or contactless read (field 55). */
  iccData?: Buffer;
  /** The reader's enciphered PIN block and its KSN (fields 52 and 53), as the reader gave them. */
  pin?: { block: Buffer; ksn: Buffer };
  batchNumber: number;
}

/** 0200 sale or refund. The card travels only as the reader's encrypted blob (field 48). */
export function financialRequest(id: TerminalIdentity, r: FinancialRequest): IsoMessage {
  const fields = new Map<number, string | Buffer>([
    [3, PROCESSING_CODE[r.kind]],
    [4, fmtN(r.amount, 12)],
    [7, transmissionDateTime(r.at)],
    [11, r.stan],
    [12, localTime(r.at)],
    [13, localDate(r.at)],
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
  if (r.pin) {
    fields.set(52, r.pin.block);
    fields.set(53, r.pin.ksn);
  }
  if (r.iccData && r.iccData.length > 0) fields.set(55, r.iccData);
  return { mti: '0200', fields: sortFields(fields) };
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

/** A field 3 value: what a 0200 asks for, and what its reversal and response echo. */
export type ProcessingCode = (typeof PROCESSING_CODE)[keyof typeof PROCESSING_CODE];

/** Identifies an earlier exchange: the MTI, STAN and field 7 it was sent with. */
export interface OriginalExchange {
  mti: string;
  stan: string;
  /** Field 7 of the original, MMDDhhmmss UTC. */
  transmittedAt: string;
}

/**
 * Field 90: original MTI + STAN + field 7 + acquiring and forwarding institution ids.
 * Neither institution id is used in this version, so both are eleven zeros.
 */
export function originalDataElements(o: OriginalExchange): string {
  return `${o.mti}${o.stan}${o.transmittedAt}${'0'.repeat(11)}${'0'.repeat(11)}`;
}

export function parseOriginalDataElements(value: string): OriginalExchange | undefined {
  if (!/^\d{42}$/.test(value)) return undefined;
  return { mti: value.slice(0, 4), stan: value.slice(4, 10), transmittedAt: value.slice(10, 20) };
}

export interface VoidRequest {
  stan: string;
  /** The full amount of the original; a void is never partial. */
  amount: number;
  currency: CurrencyCode;
  at: Date;
  batchNumber: number;
  original: OriginalExchange & { rrn: string };
}

/**
 * 0200 void (processing code 020000): cancels an approved sale of the open batch. The
 * card is not needed again; the host finds the original through field 90 and checks
 * field 37 against the RRN it assigned.
 */
export function voidRequest(id: TerminalIdentity, r: VoidRequest): IsoMessage {
  const fields = new Map<number, string | Buffer>([
    [3, PROCESSING_CODE.void],
    [4, fmtN(r.amount, 12)],
    [7, transmissionDateTime(r.at)],
    [11, r.stan],
    [12, localTime(r.at)],
    [13, localDate(r.at)],
    [24, id.nii],
    [25, '00'],
    [37, r.original.rrn.padEnd(12, ' ')],
    [41, id.terminalId],
    [42, id.merchantId],
    [49, CURRENCIES[r.currency].numeric],
    [60, fmtN(r.batchNumber, 6)],
    [90, originalDataElements(r.original)],
  ]);
  return { mti: '0200', fields };
}

export interface AdviceRequest extends Omit<FinancialRequest, 'kind'> {
  /** 0221 when an earlier transmission of this advice went unanswered. */
  repeat: boolean;
  /** When this transmission leaves (field 7); `at` stays the time of the sale. */
  sentAt: Date;
  /** The approval code the terminal assigned offline (field 38), when it assigned one. */
  offlineAuthCode?: string;
}

/** 0220 / 0221 store-and-forward advice: the 0200 fields of an offline sale, plus field 38. */
export function adviceRequest(id: TerminalIdentity, r: AdviceRequest): IsoMessage {
  const base = financialRequest(id, { ...r, kind: 'sale' });
  base.fields.set(7, transmissionDateTime(r.sentAt));
  if (r.offlineAuthCode !== undefined) base.fields.set(38, r.offlineAuthCode.padEnd(6, ' '));
  return { mti: r.repeat ? '0221' : '0220', fields: sortFields(base.fields) };
}

export interface ReversalRequest {
  repeat: boolean;
  /** The reversal's own STAN, the same for the 0400 and every 0401. */
  stan: string;
  sentAt: Date;
  processingCode: ProcessingCode;
  amount: number;
  currency: CurrencyCode;
  batchNumber: number;
  original: OriginalExchange;
}

/** 0400 / 0401 full reversal of an unanswered (or crash-interrupted) 0200. */
export function reversalRequest(id: TerminalIdentity, r: ReversalRequest): IsoMessage {
  const fields = new Map<number, string | Buffer>([
    [3, r.processingCode],
    [4, fmtN(r.amount, 12)],
    [7, transmissionDateTime(r.sentAt)],
    [11, r.stan],
    [24, id.nii],
    [41, id.terminalId],
    [42, id.merchantId],
    [49, CURRENCIES[r.currency].numeric],
    [60, fmtN(r.batchNumber, 6)],
    [90, originalDataElements(r.original)],
  ]);
  return { mti: r.repeat ? '0401' : '0400', fields };
}

/** Field 63 of the 0500: counts and amounts (minor units) of the batch's sales and refunds. */
export interface SettlementTotals {
  salesCount: number;
  salesAmount: number;
  refundsCount: number;
  refundsAmount: number;
}

export function formatSettlementTotals(t: SettlementTotals): string {
  return `${fmtN(t.salesCount, 6)}${fmtN(t.salesAmount, 12)}${fmtN(t.refundsCount, 6)}${fmtN(t.refundsAmount, 12)}`;
}

export function parseSettlementTotals(value: string): SettlementTotals | undefined {
  if (!/^\d{36}$/.test(value)) return undefined;
  return {
    salesCount: Number(value.slice(0, 6)),
    salesAmount: Number(value.slice(6, 18)),
    refundsCount: Number(value.slice(18, 24)),
    refundsAmount: Number(value.slice(24, 36)),
  };
}

/** 0500 batch close: the batch number (60) and the terminal's totals for it (63). */
export function settlementRequest(
  id: TerminalIdentity,
  r: { stan: string; at: Date; batchNumber: number; totals: SettlementTotals },
): IsoMessage {
  const fields = new Map<number, string | Buffer>([
    [7, transmissionDateTime(r.at)],
    [11, r.stan],
    [24, id.nii],
    [41, id.terminalId],
    [42, id.merchantId],
    [60, fmtN(r.batchNumber, 6)],
    [63, formatSettlementTotals(r.totals)],
  ]);
  return { mti: '0500', fields };
}

/** Field 70 values. */
export const NETWORK_CODE = { signOn: '001', echo: '301' } as const;

/** 0800 network management: sign-on after every connect, echo test when the link is idle. */
export function networkRequest(id: TerminalIdentity, r: { stan: string; at: Date; purpose: keyof typeof NETWORK_CODE }): IsoMessage {
  const fields = new Map<number, string | Buffer>([
    [7, transmissionDateTime(r.at)],
    [11, r.stan],
    [24, id.nii],
    [41, id.terminalId],
    [70, NETWORK_CODE[r.purpose]],
  ]);
  return { mti: '0800', fields };
}

function sortFields(fields: Map<number, string | Buffer>): Map<number, string | Buffer> {
  return new Map([...fields].sort(([a], [b]) => a - b));
}
