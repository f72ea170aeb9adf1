import { connect, type Socket } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { pack, unpack, type IsoMessage } from '../../firmware-app/host/iso8583/packager.js';
import {
  adviceRequest,
  financialRequest,
  reversalRequest,
  settlementRequest,
  voidRequest,
  type TerminalIdentity,
} from '../../firmware-app/host/messages.js';
import { encryptCardData } from '../../sim/cards.js';
import { HostSim } from '../../sim/host/host-sim.js';

/**
 * The simulated host as a terminal sees it over TCP: the ledger rules of
 * docs/protocols/host-iso8583.md section 5 (repeats never post twice, reversals before
 * their original, voids, advices with temporary failures, settlement totals).
 */
const ID: TerminalIdentity = { terminalId: 'TERM0001', merchantId: '000000000000001', nii: '001' };
const BLOB = encryptCardData({ pan: '4111111111111111', expiry: '2812', entryMode: 'CHIP' });
const NOW = new Date();

let host: HostSim;
let client: Client;

/** A bare TCP client: one request, its framed answer (or none within the wait). */
class Client {
  private rx = Buffer.alloc(0);
  private readonly waiting: ((m: IsoMessage) => void)[] = [];
  readonly extra: IsoMessage[] = [];
  closed = false;

  constructor(private readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.rx = Buffer.concat([this.rx, chunk]);
      while (this.rx.length >= 2 && this.rx.length >= 2 + this.rx.readUInt16BE(0)) {
        const msg = unpack(this.rx.subarray(2, 2 + this.rx.readUInt16BE(0)));
        this.rx = this.rx.subarray(2 + this.rx.readUInt16BE(0));
        const w = this.waiting.shift();
        if (w) w(msg);
        else this.extra.push(msg);
      }
    });
    socket.on('close', () => {
      this.closed = true;
    });
  }

  static open(port: number): Promise<Client> {
    return new Promise((resolve, reject) => {
      const s = connect(port, '127.0.0.1', () => resolve(new Client(s)));
      s.once('error', reject);
    });
  }

  send(msg: IsoMessage, waitMs = 20_000): Promise<IsoMessage | undefined> {
    const body = pack(msg);
    const header = Buffer.alloc(2);
    header.writeUInt16BE(body.length);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(undefined), waitMs);
      this.waiting.push((m) => {
        clearTimeout(timer);
        resolve(m);
      });
      this.socket.write(Buffer.concat([header, body]));
    });
  }

  end(): void {
    this.socket.destroy();
  }
}

const payment = (stan: string, amount: number, kind: 'sale' | 'refund' = 'sale') =>
  financialRequest(ID, {
    kind,
    stan,
    amount,
    currency: 'CNY',
    at: NOW,
    entryMode: 'CHIP',
    expiry: '2812',
    encryptedBlob: BLOB,
    batchNumber: 7,
  });
const reversal = (stan: string, originalStan: string, amount: number, repeat = false) =>
  reversalRequest(ID, {
    repeat,
    stan,
    sentAt: NOW,
    processingCode: '000000',
    amount,
    currency: 'CNY',
    batchNumber: 7,
    original: { mti: '0200', stan: originalStan, transmittedAt: '0101000000' },
  });
const advice = (stan: string, amount: number, repeat = false) =>
  adviceRequest(ID, {
    stan,
    amount,
    currency: 'CNY',
    at: NOW,
    entryMode: 'CHIP',
    expiry: '2812',
    encryptedBlob: BLOB,
    batchNumber: 7,
    repeat,
    sentAt: NOW,
    offlineAuthCode: 'Y00001',
  });
const code = (m: IsoMessage | undefined) => m?.fields.get(39);

beforeEach(async () => {
  host = new HostSim();
  await host.start();
  client = await Client.open(host.port);
});

afterEach(async () => {
  client.end();
  await host.stop();
});

describe('simulated host ledger', () => {
  it('answers a duplicate 0200 with 94 and posts nothing more', async () => {
    expect(code(await client.send(payment('000001', 1000)))).toBe('00');
    expect(code(await client.send(payment('000001', 1000)))).toBe('94');
    expect(host.ledger.posted()).toHaveLength(1);
    expect(host.ledger.get('TERM0001', '000001')?.receivedCount).toBe(2);
  });

  it('declines by rule: amount over the limit 51, scripted code, unreadable card data 30, missing mandatory field 30', async () => {
    await host.stop();
    host = new HostSim({ approveUpTo: 5000 });
    await host.start();
    client = await Client.open(host.port);
    expect(code(await client.send(payment('000001', 5001)))).toBe('51');
    host.queue({ type: 'decline', code: '05' });
    expect(code(await client.send(payment('000002', 100)))).toBe('05');
    const bad = payment('000003', 100);
    bad.fields.set(48, Buffer.alloc(40, 1));
    expect(code(await client.send(bad))).toBe('30');
    const missing = payment('000004', 100);
    missing.fields.delete(60);
    expect(code(await client.send(missing))).toBe('30');
    expect(host.ledger.posted()).toEqual([]);
  });

  it('reverses once however often the reversal is repeated, and answers 0410 00 every time', async () => {
    await client.send(payment('000001', 1000));
    expect(code(await client.send(reversal('000002', '000001', 1000)))).toBe('00');
    expect(code(await client.send(reversal('000002', '000001', 1000, true)))).toBe('00');
    expect(host.ledger.get('TERM0001', '000001')?.status).toBe('reversed');
    expect(host.ledger.reversal('TERM0001', '000002')).toMatchObject({ effect: 'reversed', receivedCount: 2 });
  });

  it('records a reversal that overtakes its original, and then answers the late original 12 without posting', async () => {
    expect(code(await client.send(reversal('000002', '000001', 1000)))).toBe('00');
    expect(code(await client.send(payment('000001', 1000)))).toBe('12');
    expect(host.ledger.posted()).toEqual([]);
  });

  it('voids an approved sale when 37 and 90 identify it, and a reversed void puts the sale back', async () => {
    const approval = await client.send(payment('000001', 1000));
    const rrn = String(approval?.fields.get(37));
    const original = { mti: '0200', stan: '000001', transmittedAt: String(approval?.fields.get(7)), rrn };
    const wrongRrn = voidRequest(ID, {
      stan: '000002',
      amount: 1000,
      currency: 'CNY',
      at: NOW,
      batchNumber: 7,
      original: { ...original, rrn: '999999999999' },
    });
    expect(code(await client.send(wrongRrn))).toBe('12');
    const v = voidRequest(ID, { stan: '000003', amount: 1000, currency: 'CNY', at: NOW, batchNumber: 7, original });
    expect(code(await client.send(v))).toBe('00');
    expect(host.ledger.get('TERM0001', '000001')?.status).toBe('voided');
    expect(host.ledger.posted()).toEqual([]);
    const rev = reversalRequest(ID, {
      repeat: false,
      stan: '000004',
      sentAt: NOW,
      processingCode: '020000',
      amount: 1000,
      currency: 'CNY',
      batchNumber: 7,
      original: { mti: '0200', stan: '000003', transmittedAt: String(v.fields.get(7)) },
    });
    expect(code(await client.send(rev))).toBe('00');
    expect(host.ledger.get('TERM0001', '000001')?.status).toBe('posted');
  });

  it('posts an advice once, retries nothing after 91/96, and repeats the first answer to a 0221', async () => {
    host.queueFor('0220', { type: 'decline', code: '91' }, { type: 'decline', code: '96' });
    expect(code(await client.send(advice('000001', 800)))).toBe('91');
    expect(code(await client.send(advice('000001', 800, true)))).toBe('96');
    expect(host.ledger.get('TERM0001', '000001')).toBeUndefined();
    expect(code(await client.send(advice('000001', 800, true)))).toBe('00');
    expect(code(await client.send(advice('000001', 800, true)))).toBe('00');
    expect(host.ledger.get('TERM0001', '000001')).toMatchObject({ kind: 'advice', status: 'posted', authCode: 'Y00001', receivedCount: 2 });
    expect(host.ledger.posted()).toHaveLength(1);
  });

  it('posts a 0221 whose 0220 it never received as the advice, once, and answers its repeats the same', async () => {
    expect(code(await client.send(advice('000001', 800, true)))).toBe('00');
    expect(host.ledger.get('TERM0001', '000001')).toMatchObject({ kind: 'advice', status: 'posted', amount: 800, receivedCount: 1 });
    expect(code(await client.send(advice('000001', 800, true)))).toBe('00');
    expect(host.ledger.get('TERM0001', '000001')).toMatchObject({ status: 'posted', receivedCount: 2 });
    expect(host.ledger.posted()).toHaveLength(1);
  });

  it('settles: 00 when field 63 agrees with the ledger, 95 when not (or when forced), and never closes twice', async () => {
    await client.send(payment('000001', 1000));
    await client.send(payment('000002', 250, 'refund'));
    await client.send(payment('000003', 400));
    await client.send(reversal('000004', '000003', 400));
    await client.send(advice('000005', 300));
    const totals = { salesCount: 2, salesAmount: 1300, refundsCount: 1, refundsAmount: 250 };
    const settle = (stan: string, batch: number, t = totals) => settlementRequest(ID, { stan, at: NOW, batchNumber: batch, totals: t });
    host.queueFor('0500', { type: 'decline', code: '96' });
    expect(code(await client.send(settle('000006', 7)))).toBe('96');
    expect(host.ledger.settlement('TERM0001', 7)).toBeUndefined();
    expect(code(await client.send(settle('000007', 7)))).toBe('00');
    expect(code(await client.send(settle('000008', 7, { ...totals, salesCount: 3 })))).toBe('00');
    expect(code(await client.send(settle('000009', 8, { ...totals, salesAmount: 1 })))).toBe('95');
    host.queueFor('0500', { type: 'decline', code: '95' });
    expect(code(await client.send(settle('000010', 9, { salesCount: 0, salesAmount: 0, refundsCount: 0, refundsAmount: 0 })))).toBe('95');
  });

  it('refuses connections while down and listens on the same port when it comes back', async () => {
    const port = host.port;
    await host.stop();
    await expect(Client.open(port)).rejects.toThrow(/ECONNREFUSED/);
    await host.start();
    expect(host.port).toBe(port);
    client = await Client.open(port);
    expect(code(await client.send(payment('000001', 100)))).toBe('00');
  });
});
