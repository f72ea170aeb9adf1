import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { LineFramer, type OverlongLine } from '../../drivers/serial/line-framer.js';

interface Run {
  framer: LineFramer;
  lines: string[];
  overlong: number[];
}

function framerUnderTest(maxLength?: number): Run {
  const framer = new LineFramer(maxLength === undefined ? {} : { maxLength });
  const run: Run = { framer, lines: [], overlong: [] };
  framer.on('data', (line: string) => run.lines.push(line));
  framer.on('overlong', (info: OverlongLine) => run.overlong.push(info.length));
  return run;
}

async function feed(chunks: (string | Buffer | Uint8Array)[], maxLength?: number): Promise<Run> {
  const run = framerUnderTest(maxLength);
  for (const chunk of chunks) run.framer.write(chunk);
  run.framer.end();
  await new Promise((resolve) => run.framer.on('end', resolve));
  return run;
}

describe('LineFramer', () => {
  it('splits CRLF and bare LF lines and drops the terminator', async () => {
    const { lines, framer } = await feed(['$1,INFO*13\r\n$2,STATUS*40\n']);
    expect(lines).toEqual(['$1,INFO*13', '$2,STATUS*40']);
    expect(framer.stats).toEqual({ lines: 2, bytes: 25, overlong: 0 });
  });

  it('reassembles a line split across many chunks, CR and LF in separate chunks', async () => {
    const text = '$3,READ,OK,476173******0010,2812,CHIP\r\n';
    const { lines } = await feed([...text].map((c) => Buffer.from(c, 'latin1')));
    expect(lines).toEqual(['$3,READ,OK,476173******0010,2812,CHIP']);
  });

  it('emits several lines from one chunk and keeps the unfinished tail for the next', async () => {
    const { lines } = await feed(['$E1,EVENT,CARD_INSERTED*00\r\n$E2,EVENT,KEY,1*00\r\n$5,BE', 'EP,OK*00\r\n']);
    expect(lines).toEqual(['$E1,EVENT,CARD_INSERTED*00', '$E2,EVENT,KEY,1*00', '$5,BEEP,OK*00']);
  });

  it('keeps a CR that is not followed by LF as part of the line', async () => {
    const { lines } = await feed(['a\rb\r', '\rc\r\n']);
    expect(lines).toEqual(['a\rb\r\rc']);
  });

  it('skips empty lines instead of emitting them', async () => {
    const { lines, framer } = await feed(['\r\n\n\r\n$1,INFO*13\r\n\r\n']);
    expect(lines).toEqual(['$1,INFO*13']);
    expect(framer.stats.lines).toBe(1);
  });

  it('emits non-ASCII bytes as latin1 characters instead of throwing', async () => {
    const { lines } = await feed([Buffer.from([0x24, 0x00, 0xff, 0xc3, 0x28, 0x0d, 0x0a])]);
    expect(lines).toEqual(['$\x00\xff\xc3(']);
  });

  it('drops an unterminated tail when the stream ends', async () => {
    const { lines, framer } = await feed(['$1,INFO*13\r\n$2,STA']);
    expect(lines).toEqual(['$1,INFO*13']);
    expect(framer.pendingBytes).toBe(0);
  });

  it('keeps a line of exactly maxLength, terminated by CR LF', async () => {
    const { lines, overlong, framer } = await feed(['x'.repeat(7), 'y\r', '\n'], 8);
    expect(lines).toEqual(['xxxxxxxy']);
    expect(overlong).toEqual([]);
    expect(framer.pendingBytes).toBe(0);
  });

  it('drops a line over maxLength, counts it, reports its length at the LF, and holds none of it', async () => {
    const run = framerUnderTest(8);
    run.framer.write('123456');
    expect(run.framer.pendingBytes).toBe(6);
    run.framer.write('789');
    expect(run.framer.pendingBytes).toBe(0);
    run.framer.write('x'.repeat(5000));
    expect(run.framer.pendingBytes).toBe(0);
    expect(run.overlong).toEqual([]);
    run.framer.write('\r\n');
    expect(run.overlong).toEqual([5009]);
    expect(run.framer.stats.overlong).toBe(1);
    expect(run.framer.stats.lines).toBe(0);
  });

  it('recovers on the line after an overlong one, even inside the same chunk', async () => {
    const { lines, overlong, framer } = await feed(['ok1\r\n' + 'z'.repeat(20), 'zz\r\nok2\r\n', 'ok3\n'], 8);
    expect(lines).toEqual(['ok1', 'ok2', 'ok3']);
    expect(overlong).toEqual([22]);
    expect(framer.stats).toEqual({ lines: 3, bytes: 5 + 20 + 9 + 4, overlong: 1 });
  });

  it('uses 1024 bytes as the default limit', async () => {
    const { lines, overlong } = await feed(['a'.repeat(1024) + '\r\n' + 'b'.repeat(1025) + '\r\n']);
    expect(lines.map((l) => l.length)).toEqual([1024]);
    expect(overlong).toEqual([1025]);
  });

  it('refuses a maxLength that is not a positive integer', () => {
    expect(() => new LineFramer({ maxLength: 0 })).toThrow(RangeError);
    expect(() => new LineFramer({ maxLength: 1.5 })).toThrow(RangeError);
  });
});

/** What the framer must do, written the obvious way over the whole input at once. */
function model(input: Buffer, maxLength: number): { lines: string[]; overlong: number[] } {
  const parts = input.toString('latin1').split('\n');
  parts.pop();
  const lines: string[] = [];
  const overlong: number[] = [];
  for (const part of parts) {
    const text = part.endsWith('\r') ? part.slice(0, -1) : part;
    if (text.length > maxLength) overlong.push(text.length);
    else if (text.length > 0) lines.push(text);
  }
  return { lines, overlong };
}

/** Byte soup rich in CR, LF and frame characters, so lines of every length near the limit occur. */
const chunkArb = fc.oneof(
  fc.uint8Array({ maxLength: 40 }),
  fc.array(fc.constantFrom(0x0d, 0x0a, 0x24, 0x2a, 0x41, 0x00, 0xff), { maxLength: 12 }).map((a) => Uint8Array.from(a)),
  fc.constantFrom(Uint8Array.from([0x0d]), Uint8Array.from([0x0a]), Uint8Array.from([0x0d, 0x0a])),
);

describe('LineFramer properties', () => {
  it('never throws, never holds more than maxLength, never emits more than maxLength, and agrees with the model', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(chunkArb, { maxLength: 30 }), fc.integer({ min: 1, max: 48 }), async (chunks, maxLength) => {
        const run = framerUnderTest(maxLength);
        for (const chunk of chunks) {
          run.framer.write(chunk);
          expect(run.framer.pendingBytes).toBeLessThanOrEqual(maxLength);
        }
        run.framer.end();
        await new Promise((resolve) => run.framer.on('end', resolve));
        for (const l of run.lines) expect(l.length).toBeLessThanOrEqual(maxLength);
        const input = Buffer.concat(chunks);
        expect({ lines: run.lines, overlong: run.overlong }).toEqual(model(input, maxLength));
        expect(run.framer.stats).toEqual({ lines: run.lines.length, bytes: input.length, overlong: run.overlong.length });
      }),
      { numRuns: 10000 },
    );
  });
});
