import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { pack, unpack, type IsoMessage } from '../../firmware-app/host/iso8583/packager.js';
import { financialRequest } from '../../firmware-app/host/messages.js';
import { encryptCardData } from '../../sim/cards.js';
import { REPO } from '../support/terminal-process.js';

/**
 * `npm run sim` driven the way a technician reproduces an outage: commands on its standard
 * input, answers and printed slips as JSON lines, the ledger kept in a file across runs.
 * A real TCP client stands in for the terminal (the built simulator on loopback).
 */
describe('npm run sim, driven from its standard input', () => {
  let child: ChildProcessWithoutNullStreams | undefined;

  afterEach(async () => {
    if (child && child.exitCode === null) {
      const exited = new Promise((resolve) => child!.once('exit', resolve));
      child.kill('SIGINT');
      await exited;
    }
    child = undefined;
  });

  function start(args: string[]): { lines: () => Record<string, unknown>[]; send: (line: string) => void } {
    const c = spawn(process.execPath, [join(REPO, 'dist', 'sim', 'cli.js'), '--json', ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    child = c;
    let out = '';
    c.stdout.on('data', (d: Buffer) => (out += d.toString()));
    return {
      lines: () =>
        out
          .split('\n')
          .filter((l) => l.startsWith('{'))
          .map((l) => JSON.parse(l) as Record<string, unknown>),
      send: (line) => c.stdin.write(`${line}\n`),
    };
  }

  /** One 0200 over a fresh connection; resolves the decoded 0210. */
  async function sale(port: number, stan: string, amount: number): Promise<IsoMessage> {
    const socket: Socket = connect(port, '127.0.0.1');
    await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    const body = pack(
      financialRequest(
        { terminalId: 'TCLI0001', merchantId: '000000000000001', nii: '001' },
        {
          kind: 'sale',
          stan,
          amount,
          currency: 'CNY',
          at: new Date(),
          entryMode: 'CHIP',
          expiry: '2812',
          encryptedBlob: encryptCardData({ pan: '4111111111111111', expiry: '2812', entryMode: 'CHIP' }),
          batchNumber: 1,
        },
      ),
    );
    const header = Buffer.alloc(2);
    header.writeUInt16BE(body.length);
    socket.write(Buffer.concat([header, body]));
    let rx = Buffer.alloc(0);
    const frame = await new Promise<Buffer>((resolve) =>
      socket.on('data', (d: Buffer) => {
        rx = Buffer.concat([rx, d]);
        if (rx.length >= 2 && rx.length >= 2 + rx.readUInt16BE(0)) resolve(rx.subarray(2, 2 + rx.readUInt16BE(0)));
      }),
    );
    socket.destroy();
    return unpack(frame);
  }

  const refused = (port: number) =>
    new Promise<boolean>((resolve) => {
      const s = connect(port, '127.0.0.1');
      s.once('connect', () => {
        s.destroy();
        resolve(false);
      });
      s.once('error', () => resolve(true));
    });

  it('stops and starts the host alone, changes the decline script and tampers with an answer while running', async () => {
    const sim = start([]);
    await expect.poll(() => sim.lines().length, { timeout: 10_000 }).toBeGreaterThan(0);
    const { hostPort, printerPath } = sim.lines()[0] as { hostPort: number; printerPath: string };
    const replies = () => sim.lines().flatMap((l) => (typeof l.reply === 'string' ? [l.reply] : []));

    expect((await sale(hostPort, '000001', 1101)).fields.get(39)).toBe('00');
    sim.send('host stop');
    await expect.poll(replies).toContain('host: stopped, connections refused');
    expect(await refused(hostPort)).toBe(true);
    sim.send('host start');
    await expect.poll(replies).toContain(`host: listening on port ${hostPort}`);

    sim.send('decline 51');
    await expect.poll(replies).toContain('host: every sale declined 51');
    expect((await sale(hostPort, '000002', 1101)).fields.get(39)).toBe('51');
    sim.send('approve');
    sim.send('tamper 4=000000001201 -38');
    await expect.poll(replies).toContain('host: the next 0200 answer is tampered with (4=000000001201 -38)');
    const tampered = await sale(hostPort, '000003', 1101);
    expect(tampered.fields.get(4)).toBe('000000001201');
    expect(tampered.fields.has(38)).toBe(false);
    expect((await sale(hostPort, '000004', 1101)).fields.get(4)).toBe('000000001101');

    // A value the field cannot carry is refused when typed, and the host keeps answering.
    sim.send('tamper 4=12');
    await expect.poll(() => replies().some((r) => r.startsWith('"4=12": unreadable ISO 8583 message: field 4 has length 2'))).toBe(true);
    expect((await sale(hostPort, '000005', 1101)).fields.get(39)).toBe('00');

    // A slip printed while --json is on comes out as a JSON line.
    writeFileSync(printerPath, Buffer.from('\x1b@THANK YOU SLIP\n\x1bi', 'latin1'));
    await expect.poll(() => sim.lines().some((l) => typeof l.receipt === 'string' && l.receipt.includes('THANK YOU SLIP'))).toBe(true);
  });

  it('keeps an earlier run ledger in --ledger-file instead of emptying it', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'pos-sim-ledger-')), 'ledger.json');
    const first = start(['--ledger-file', file]);
    await expect.poll(() => first.lines().length, { timeout: 10_000 }).toBeGreaterThan(0);
    const port1 = (first.lines()[0] as { hostPort: number }).hostPort;
    const a = await sale(port1, '000010', 500);
    child!.kill('SIGINT');
    await new Promise((resolve) => child!.once('exit', resolve));

    const second = start(['--ledger-file', file]);
    await expect.poll(() => second.lines().length, { timeout: 10_000 }).toBeGreaterThan(0);
    const port2 = (second.lines()[0] as { hostPort: number }).hostPort;
    const b = await sale(port2, '000011', 700);
    const ledger = JSON.parse(readFileSync(file, 'utf8')) as { entries: { stan: string; amount: number; rrn: string }[] };
    expect(ledger.entries.map((e) => [e.stan, e.amount])).toEqual([
      ['000010', 500],
      ['000011', 700],
    ]);
    // The restarted host goes on numbering: no RRN is handed out twice.
    expect(b.fields.get(37)).not.toBe(a.fields.get(37));
    // And it remembers: the earlier STAN again is a duplicate, not a second posting.
    expect((await sale(port2, '000010', 500)).fields.get(39)).toBe('94');
  });
});
