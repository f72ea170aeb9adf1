import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { silentLogger } from '../../drivers/base/logger.js';
import { PosError } from '../../drivers/base/errors.js';
import { CardReaderClient } from '../../drivers/card-reader/client.js';
import { encodeFrame } from '../../drivers/card-reader/frame.js';
import { FakeClock, fakePortFactory } from '../support/fake-serial.js';

const turn = () => new Promise<void>((resolve) => setImmediate(resolve));
const MAX_LINE = 1024;

const frameText = fc.oneof(
  fc.constant(
    encodeFrame({
      seq: '1',
      command: 'READ',
      fields: ['OK', '411111******1111', '2812', 'CHIP', 'ab'.repeat(32), Buffer.alloc(40).toString('base64'), 'LIMIT'],
    }),
  ),
  fc.constant(encodeFrame({ seq: '1', command: 'READ', fields: ['ERR', 'CANCELLED'] })),
  fc.constant(encodeFrame({ seq: '1', command: 'READ', fields: ['OK', '4111111111111111', '2812', 'CHIP'] })),
  fc.constant(encodeFrame({ seq: '1', command: 'NAK', fields: ['CHECKSUM'] })),
  fc.constant(encodeFrame({ seq: '0', command: 'NAK', fields: ['OVERLONG'] })),
  fc.constant(encodeFrame({ seq: 'E1', command: 'EVENT', fields: ['KEY', '5'] })),
  fc.constant(encodeFrame({ seq: '7', command: 'STATUS', fields: ['OK', 'IDLE', '0'] })),
);

/** Arbitrary bytes, valid frames cut anywhere, and long runs with no line end at all. */
const chunkArb = fc.oneof(
  fc.uint8Array({ maxLength: 64 }).map((a) => Buffer.from(a)),
  frameText.map((t) => Buffer.from(t, 'latin1')),
  fc
    .tuple(frameText, fc.nat(), fc.nat())
    .map(([t, a, b]) => Buffer.from(t.slice(Math.min(a, b) % t.length, Math.max(a, b) % (t.length + 1)), 'latin1')),
  fc.integer({ min: 1, max: 3000 }).map((n) => Buffer.alloc(n, 0x41)),
  fc.constantFrom(Buffer.from('\r\n'), Buffer.from('\n'), Buffer.from('$')),
);

describe('the whole receive path (port -> framer -> frame codec -> client) on arbitrary bytes', () => {
  it('never throws or rejects with an untyped error, never holds more than one line, and never loops on NAKs', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(chunkArb, { maxLength: 12 }), async (chunks) => {
        const ports = fakePortFactory();
        const clock = new FakeClock();
        const client = new CardReaderClient(
          { path: '/dev/ttyFUZZ', healthProbeMs: 0, maxLineLength: MAX_LINE },
          { logger: silentLogger, clock, portFactory: ports.factory },
        );
        await client.connect();
        let outcome: unknown = 'pending';
        client.read({ amount: 100, currency: 'CNY', timeoutMs: 1000 }).then(
          (r) => (outcome = r),
          (e: unknown) => (outcome = e),
        );
        await turn();
        for (const chunk of chunks) {
          ports.current.feed(chunk);
          await turn();
          expect(client.lineStats!.pendingBytes).toBeLessThanOrEqual(MAX_LINE);
        }
        if (outcome instanceof Error) expect(outcome).toBeInstanceOf(PosError);
        // One READ, at most two retransmissions of it, at most two NAKs of ours.
        expect(ports.current.frames.length).toBeLessThanOrEqual(5);
        expect(client.state).toBe('connected');
        clock.advance(10_000);
        await turn();
        expect(outcome).not.toBe('pending');
        if (outcome instanceof Error) expect(outcome).toBeInstanceOf(PosError);
        await client.close();
      }),
      { numRuns: 10000 },
    );
  }, 300_000);
});
