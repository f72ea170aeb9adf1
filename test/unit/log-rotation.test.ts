import { existsSync, mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../firmware-app/logging/logger.js';
import { RotatingFileStream } from '../../firmware-app/logging/rotating-file.js';

function logFile(): string {
  return join(mkdtempSync(join(tmpdir(), 'pos-log-')), 'logs', 'pos.log');
}

const line = (n: number) => `${JSON.stringify({ n, msg: 'x'.repeat(80) })}\n`;

describe('size-rotated log file', () => {
  it('bounds disk use to maxBytes x (maxFiles + 1), keeping the newest lines whole', () => {
    const file = logFile();
    const stream = new RotatingFileStream({ file, maxBytes: 1000, maxFiles: 2 });
    for (let n = 0; n < 200; n++) stream.write(line(n));
    stream.end();

    expect(stream.files()).toEqual([file, `${file}.1`, `${file}.2`]);
    expect(existsSync(`${file}.3`)).toBe(false);
    const numbers: number[] = [];
    for (const f of [`${file}.2`, `${file}.1`, file]) {
      expect(statSync(f).size).toBeLessThanOrEqual(1000);
      const text = readFileSync(f, 'utf8');
      expect(text.endsWith('\n')).toBe(true);
      for (const l of text.trimEnd().split('\n')) numbers.push((JSON.parse(l) as { n: number }).n);
    }
    expect(numbers.at(-1)).toBe(199);
    expect(numbers).toEqual(Array.from({ length: numbers.length }, (_, i) => 200 - numbers.length + i));
    expect(numbers.length).toBeLessThan(200);
  });

  it('appends to the file left by the previous run and counts its size', () => {
    const file = logFile();
    const first = new RotatingFileStream({ file, maxBytes: 1000, maxFiles: 1 });
    first.write('a'.repeat(950) + '\n');
    first.end();
    const second = new RotatingFileStream({ file, maxBytes: 1000, maxFiles: 1 });
    second.write(line(1));
    second.end();
    expect(readFileSync(`${file}.1`, 'utf8')).toBe('a'.repeat(950) + '\n');
    expect(readFileSync(file, 'utf8')).toBe(line(1));
  });

  it('writes a line longer than maxBytes whole rather than cutting it', () => {
    const file = logFile();
    const stream = new RotatingFileStream({ file, maxBytes: 100, maxFiles: 1 });
    const long = `${'y'.repeat(300)}\n`;
    stream.write(long);
    stream.write(long);
    stream.end();
    expect(readFileSync(file, 'utf8')).toBe(long);
    expect(readFileSync(`${file}.1`, 'utf8')).toBe(long);
  });

  it('reports a write failure once instead of crashing the process', () => {
    const file = logFile();
    const errors: string[] = [];
    const stream = new RotatingFileStream({ file, maxBytes: 1000, maxFiles: 1, onError: (e) => errors.push(e.code ?? '') });
    stream.end();
    expect(stream.write(line(1))).toBe(true);
    expect(stream.write(line(2))).toBe(true);
    expect(errors).toEqual(['EBADF']);
  });

  it('rotates the file behind the production logger', () => {
    const file = logFile();
    const logger = createLogger({ level: 'info', destination: { file, maxBytes: 4096, maxFiles: 3 } });
    for (let i = 0; i < 400; i++) logger.child('saf').info({ item: i }, 'advice forwarded');
    logger.close();
    expect(existsSync(`${file}.3`)).toBe(true);
    expect(existsSync(`${file}.4`)).toBe(false);
    const last = readFileSync(file, 'utf8').trimEnd().split('\n').at(-1)!;
    expect(JSON.parse(last)).toMatchObject({ component: 'saf', item: 399, msg: 'advice forwarded' });
  });

  it('refuses settings that would not bound anything', () => {
    expect(() => new RotatingFileStream({ file: logFile(), maxBytes: 0, maxFiles: 1 })).toThrow(RangeError);
    expect(() => new RotatingFileStream({ file: logFile(), maxBytes: 10, maxFiles: 0 })).toThrow(RangeError);
  });
});
