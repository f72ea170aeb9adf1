import { decodeText, isCanonicalBase64 } from './frame.js';

const INT = /^(?:0|[1-9]\d*)$/;

function isText(field: string): boolean {
  if (!isCanonicalBase64(field)) return false;
  try {
    decodeText(field);
    return true;
  } catch {
    return false;
  }
}

/**
 * The field list each command takes (section 6 of docs/protocols/card-reader.md); a
 * command missing here, or fields that break its rule, are answered with a SYNTAX NAK.
 */
export const FIELD_RULES: Readonly<Record<string, (f: string[]) => boolean>> = {
  INFO: (f) => f.length === 0,
  STATUS: (f) => f.length === 0,
  CANCEL: (f) => f.length === 0,
  RESET: (f) => f.length === 0,
  READ: (f) => f.length === 3 && INT.test(f[0]!) && f[0]!.length <= 12 && /^[A-Z]{3}$/.test(f[1]!) && INT.test(f[2]!) && Number(f[2]) > 0,
  PIN: (f) => f.length === 1 && INT.test(f[0]!) && Number(f[0]) > 0,
  DISPLAY: (f) => f.length === 2 && f.every(isText),
  BEEP: (f) =>
    f.length === 2 &&
    INT.test(f[0]!) &&
    INT.test(f[1]!) &&
    Number(f[0]) >= 1 &&
    Number(f[0]) <= 9 &&
    Number(f[1]) >= 10 &&
    Number(f[1]) <= 2000,
};
