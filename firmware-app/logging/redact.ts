/**
 * Defensive scrubbing of anything that looks like card data, applied to every log line.
 * The product never hands card data to the logger on purpose; this is the second wall.
 */
export const REDACTED = '[REDACTED]';

const SENSITIVE_KEY = /^(pan|track\d?|track_?data|pin|pin_?block|cvv2?|cvc2?|card_?number|pan_?clear)$/i;

/** 13 to 19 digits, optionally grouped by single spaces or dashes, as a PAN is printed. */
const DIGIT_RUN = /(?<![\d])\d(?:[ -]?\d){12,18}(?![\d])/g;

/** Track 2 equivalent data: PAN '=' or 'D' expiry/service code. */
const TRACK2 = /;?\d{12,19}[=D]\d{4,}\??/g;

export function scrubString(text: string): string {
  return text.replace(TRACK2, REDACTED).replace(DIGIT_RUN, REDACTED);
}

export function isSensitiveKey(key: string): boolean {
  return SENSITIVE_KEY.test(key);
}

export function scrubValue(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return scrubString(value);
  if (value === null || typeof value !== 'object' || depth > 8) return value;
  if (Buffer.isBuffer(value) || value instanceof Uint8Array) return `<${value.length} bytes>`;
  if (value instanceof Error) {
    return { type: value.name, message: scrubString(value.message), code: (value as { code?: unknown }).code };
  }
  if (Array.isArray(value)) return value.map((v) => scrubValue(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    out[k] = isSensitiveKey(k) ? REDACTED : scrubValue(v, depth + 1);
  }
  return out;
}
