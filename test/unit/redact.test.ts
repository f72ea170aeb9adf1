import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../firmware-app/logging/logger.js';
import { REDACTED, scrubString, scrubValue } from '../../firmware-app/logging/redact.js';

describe('log redaction of anything card-like', () => {
  it('scrubs 13-19 digit runs, grouped PANs and track data from text', () => {
    expect(scrubString('pan 4111111111111111 here')).toBe(`pan ${REDACTED} here`);
    expect(scrubString('4111 1111 1111 1111')).toBe(REDACTED);
    expect(scrubString('5555-5555-5555-4444')).toBe(REDACTED);
    expect(scrubString(';4111111111111111=28121010000000000000?')).toBe(REDACTED);
    expect(scrubString('3782822463100050000')).toBe(REDACTED);
    // Short numbers a terminal logs legitimately stay readable.
    expect(scrubString('STAN 000123 RRN 000000000001 amount 1234')).toBe('STAN 000123 RRN 000000000001 amount 1234');
  });

  it('scrubs sensitive keys at any depth and never prints buffers', () => {
    const out = scrubValue({
      pan: '4111',
      nested: { track2: 'x', cvv: '123', PIN: '1234', ok: 'fine' },
      blob: Buffer.from('secret'),
    }) as Record<string, unknown>;
    expect(out).toEqual({ pan: REDACTED, nested: { track2: REDACTED, cvv: REDACTED, PIN: REDACTED, ok: 'fine' }, blob: '<6 bytes>' });
  });

  it('keeps card data out of a real log file, in messages, fields and errors', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'pos-log-')), 'x.log');
    const log = createLogger({ level: 'trace', destination: { file } }).child('test');
    log.info({ pan: '4111111111111111', note: 'card 5555555555554444' }, 'paid with 6250941006528599');
    log.error({ err: new Error('bad card 4000056655665556') }, 'failure');
    log.flush();
    const text = readFileSync(file, 'utf8');
    for (const pan of ['4111111111111111', '5555555555554444', '6250941006528599', '4000056655665556']) expect(text).not.toContain(pan);
    expect(text).toContain('"component":"test"');
    expect(text).toContain(REDACTED);
  });
});
