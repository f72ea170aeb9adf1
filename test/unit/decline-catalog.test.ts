import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  ReaderCommandError,
  ReaderDisconnectedError,
  ReaderLinkError,
  ReaderProtocolError,
  ReaderTimeoutError,
  READER_ERR_CODES,
} from '../../drivers/card-reader/errors.js';
import { CATALOG, DECLINE_CATEGORIES, explain, GENERIC_DECLINE, RETRY_CLASSES } from '../../firmware-app/declines/catalog.js';
import { HostTimeoutError, HostUnreachableError } from '../../firmware-app/host/errors.js';
import { OFFLINE_DECLINE } from '../../firmware-app/payments/offline-rules.js';
import { HOST_SIM_RESPONSE_CODES } from '../../sim/host/response-codes.js';
import { REPO } from '../support/terminal-process.js';

const CJK = /[\u4e00-\u9fff]/;

/** Columns on the printer: a Chinese character takes two. */
const printColumns = (s: string) => [...s].reduce((n, ch) => n + (/[\u2e80-\uffef]/.test(ch) ? 2 : 1), 0);

/** The field-39 codes of docs/protocols/host-iso8583.md section 8, read from the document itself. */
function documentedHostCodes(): string[] {
  const doc = readFileSync(join(REPO, 'docs', 'protocols', 'host-iso8583.md'), 'utf8');
  const section = doc.slice(doc.indexOf('## 8. Response codes'), doc.indexOf('## 9.'));
  return [...section.matchAll(/^\| `(\w\w)` \|/gm)].map((m) => m[1]!);
}

/** Every local reason the code can end a payment with, taken from the errors that carry it. */
const LOCAL_CODES = [
  new HostTimeoutError('0200', '000001', 1).code,
  new HostUnreachableError('refused').code,
  ...READER_ERR_CODES.flatMap((c) => [new ReaderCommandError('READ', c).code, new ReaderCommandError('PIN', c).code]),
  new ReaderCommandError('READ', 'SOMETHING_NEW').code,
  new ReaderTimeoutError('READ', 1).code,
  new ReaderDisconnectedError('/dev/x', 'gone').code,
  new ReaderLinkError('READ', 'checksum', 3).code,
  new ReaderProtocolError('READ', 'bad').code,
  ...Object.values(OFFLINE_DECLINE),
  'AMOUNT_OVER_LIMIT',
  'CASHIER_CANCELLED',
  'PIN_TRIES_EXCEEDED',
  'PRINTER_UNAVAILABLE',
];

const ISSUE_CODES = '00 01 03 04 05 12 13 14 30 41 43 51 54 55 57 58 61 62 63 65 68 75 91 94 95 96'.split(' ');

describe('the decline catalog', () => {
  it('explains every code the host simulator can send, every documented field-39 code and every local reason, in both languages', () => {
    const documented = documentedHostCodes();
    expect(documented.length).toBeGreaterThanOrEqual(12);
    const missing: string[] = [];
    for (const code of new Set([...HOST_SIM_RESPONSE_CODES, ...documented, ...ISSUE_CODES, ...LOCAL_CODES])) {
      const entry = explain(code);
      if (!entry.known) {
        missing.push(code);
        continue;
      }
      expect(entry.cashier.en.trim(), code).not.toBe('');
      expect(entry.customer.en.trim(), code).not.toBe('');
      expect(entry.cashier['zh-CN'], code).toMatch(CJK);
      expect(entry.customer['zh-CN'], code).toMatch(CJK);
      expect(entry.cashierHint.trim(), code).not.toBe('');
      expect(entry.technicianHint.trim(), code).not.toBe('');
    }
    expect(missing).toEqual([]);
  });

  it('lists every documented host code and every code the simulator decides itself in the simulator code list', () => {
    expect(HOST_SIM_RESPONSE_CODES).toEqual(expect.arrayContaining(documentedHostCodes()));
    const source = ['rules.ts', 'pin-check.ts'].map((file) => readFileSync(join(REPO, 'sim', 'host', file), 'utf8')).join('\n');
    const decided = [...source.matchAll(/(?:\[39, |return |\? |: )'(\d\d)'/g)].map((m) => m[1]!);
    expect(decided).toEqual(expect.arrayContaining(['00', '30', '43', '54', '55', '75']));
    expect(HOST_SIM_RESPONSE_CODES).toEqual(expect.arrayContaining(decided));
  });

  it('gives each entry a category and retry class from the fixed sets, and cashier text that fits a slip line', () => {
    for (const [code, entry] of Object.entries(CATALOG)) {
      expect(DECLINE_CATEGORIES, code).toContain(entry.category);
      expect(RETRY_CLASSES, code).toContain(entry.retry);
      expect(entry.cashier.en.length, code).toBeLessThanOrEqual(48);
      expect(printColumns(entry.cashier['zh-CN']), code).toBeLessThanOrEqual(32);
    }
  });

  it('follows the card schemes: a stolen card is never retried, an issuer outage is retried later, a wrong PIN after fixing it', () => {
    expect(explain('43')).toMatchObject({ category: 'card', retry: 'never' });
    expect(explain('91')).toMatchObject({ category: 'network', retry: 'later' });
    expect(explain('55')).toMatchObject({ category: 'card', retry: 'fix-then-retry' });
    expect(explain('HOST_TIMEOUT')).toMatchObject({ category: 'network', retry: 'later' });
    expect(explain('AMOUNT_OVER_LIMIT')).toMatchObject({ category: 'config', retry: 'fix-then-retry' });
  });

  it('answers an unknown code with the safe generic entry, marked unknown so it is counted', () => {
    expect(explain('Z9')).toMatchObject({ code: 'Z9', known: false, cashier: GENERIC_DECLINE.cashier, retry: 'never' });
    expect(explain('__proto__')).toMatchObject({ known: false, cashier: GENERIC_DECLINE.cashier });
    expect(explain('')).toMatchObject({ known: false });
  });

  it('reads an unknown reader error like a failed card read, still counted as unknown', () => {
    expect(explain('READER_JAMMED')).toMatchObject({ known: false, cashier: CATALOG.READER_CARD_READ_FAILED!.cashier });
  });
});
