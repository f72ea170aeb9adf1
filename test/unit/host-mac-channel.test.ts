import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ReaderChip } from '../../drivers/card-reader/chip.js';
import { ReaderDisconnectedError } from '../../drivers/card-reader/errors.js';
import { encodeTlv } from '../../drivers/card-reader/tlv.js';
import { HostProtocolError } from '../../firmware-app/host/errors.js';
import { pack, unpack, type IsoMessage } from '../../firmware-app/host/iso8583/packager.js';
import { MacedChannel, type MacDevice, type MacLink } from '../../firmware-app/host/mac.js';
import { DukptDevice } from '../../sim/crypto/dukpt.js';
import { deviceMac } from '../../sim/crypto/message-mac.js';
import { TEST_INITIAL_KEY_ID, TEST_READER_INITIAL_KEY } from '../../sim/crypto/test-keys.js';

/**
 * The MACed channel between the payments engine and the host link, with a stand-in reader
 * and link: what leaves carries 62 and the MAC last, and an answer the reader does not
 * vouch for is never handed to the engine.
 */
const KSN = Buffer.from('123456789012345600000009', 'hex');

function request(extra: [number, string | Buffer][] = []): IsoMessage {
  return {
    mti: '0200',
    fields: new Map<number, string | Buffer>([[3, '000000'], [4, '000000001234'], [11, '000123'], [41, 'TERM0001'], ...extra]),
  };
}

function setup(device: Partial<MacDevice>, answer: (sent: IsoMessage) => IsoMessage) {
  const sent: IsoMessage[] = [];
  const reported: HostProtocolError[] = [];
  const link: MacLink = {
    state: 'online',
    ready: true,
    request: (msg) => {
      sent.push(msg);
      return Promise.resolve(answer(msg));
    },
    reportInvalidAnswer: (err) => reported.push(err),
  };
  const full: MacDevice = {
    mac: () => Promise.resolve({ ksn: KSN, mac: Buffer.alloc(8, 1) }),
    verifyMac: () => Promise.resolve(true),
    ...device,
  };
  return { channel: new MacedChannel(link, full), sent, reported };
}

const echo = (sent: IsoMessage, drop: number[] = []): IsoMessage => {
  const fields = new Map(sent.fields);
  fields.set(39, '00');
  for (const n of drop) fields.delete(n);
  return { mti: '0210', fields };
};

describe('MACed host requests', () => {
  it('a 0200 leaves with the reader’s KSN in 62 and its MAC in 64, as the last field; 62 counts as zeros in what the reader MACs', async () => {
    let macked: Buffer | undefined;
    const { channel, sent } = setup(
      {
        mac: (data) => {
          macked = data;
          return Promise.resolve({ ksn: KSN, mac: Buffer.alloc(8, 1) });
        },
      },
      (s) => echo(s),
    );
    await channel.request(request(), 1000);
    expect([...sent[0]!.fields.keys()].at(-1)).toBe(64);
    expect(sent[0]!.fields.get(62)).toEqual(KSN);
    expect(macked!.includes(KSN)).toBe(false);
    expect(macked!.includes(Buffer.alloc(12))).toBe(true);
  });

  it('a void (field 90, secondary bitmap) carries its MAC in 128; an answer without 90 carries its own in 64', async () => {
    const { channel, sent } = setup({}, (s) => ({ ...echo(s, [90, 128]), fields: echo(s, [90, 128]).fields.set(64, Buffer.alloc(8, 2)) }));
    const answer = await channel.request(request([[90, '0'.repeat(42)]]), 1000);
    expect(sent[0]!.fields.has(128)).toBe(true);
    expect(sent[0]!.fields.has(64)).toBe(false);
    expect(answer.fields.get(39)).toBe('00');
  });

  it('a reader that cannot MAC sends nothing: the request fails as unsendable', async () => {
    const { channel, sent } = setup({ mac: () => Promise.reject(new ReaderDisconnectedError('/dev/ttyS1', 'gone')) }, (s) => echo(s));
    await expect(channel.request(request(), 1000)).rejects.toMatchObject({ code: 'HOST_UNREACHABLE' });
    expect(sent).toEqual([]);
  });

  it.each([
    ['the reader finds the MAC wrong', { verifyMac: () => Promise.resolve(false) }, (s: IsoMessage) => echo(s)],
    ['the reader cannot check it', { verifyMac: () => Promise.reject(new Error('reader gone')) }, (s: IsoMessage) => echo(s)],
    ['the answer has no MAC', {}, (s: IsoMessage) => echo(s, [64])],
    ['the answer names another KSN', {}, (s: IsoMessage) => ({ ...echo(s), fields: new Map(echo(s).fields).set(62, Buffer.alloc(12, 7)) })],
  ])('%s: no answer, reported as invalid', async (_, device: Partial<MacDevice>, answer) => {
    const { channel, reported } = setup(device, answer);
    const err = await channel.request(request(), 1000).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HostProtocolError);
    expect(reported).toEqual([err]);
  });

  it('messages other than the 0200 pass unMACed', async () => {
    const { channel, sent } = setup({ mac: () => Promise.reject(new Error('not asked')) }, (s) => ({ ...s, mti: '0810' }));
    await channel.request({ mti: '0800', fields: new Map([[70, '301']]) }, 1000);
    expect(sent[0]!.fields.has(62)).toBe(false);
  });
});

describe('the golden vectors of host-iso8583.md 10.17 and 10.18', () => {
  const doc = readFileSync(join(import.meta.dirname, '..', '..', 'docs', 'protocols', 'host-iso8583.md'), 'utf8');
  const vector = (title: string): Buffer =>
    Buffer.from(
      new RegExp(`### ${title.replace('.', '\\.')} [^\\n]*\\n[\\s\\S]*?As one hex string[^\\n]*\\n\\n\`\`\`text\\n([0-9a-f\\n]+)\`\`\``)
        .exec(doc)![1]!
        .replace(/\n/g, ''),
      'hex',
    );

  it('the terminal MACs the 0200 into the documented bytes and accepts the documented 0210', async () => {
    const documented = vector('10.17');
    const unsigned = unpack(documented);
    unsigned.fields.delete(62);
    unsigned.fields.delete(64);
    // The reader of the example, at the counter after the blob's KSN.
    const reader = new DukptDevice(TEST_READER_INITIAL_KEY, TEST_INITIAL_KEY_ID, 1);
    const sent: IsoMessage[] = [];
    const channel = new MacedChannel(
      {
        state: 'online',
        ready: true,
        request: (msg) => {
          sent.push(msg);
          return Promise.resolve(unpack(vector('10.18')));
        },
        reportInvalidAnswer: () => undefined,
      },
      {
        mac: (data) => {
          const ksn = reader.nextKsn();
          return Promise.resolve({ ksn, mac: deviceMac(reader, ksn, 'request', data) });
        },
        verifyMac: (ksn, data, mac) => Promise.resolve(deviceMac(reader, ksn, 'answer', data).equals(mac)),
      },
    );
    const answer = await channel.request(unsigned, 1000);
    expect(pack(sent[0]!).equals(documented)).toBe(true);
    expect(answer.fields.get(38)).toBe('A1B2C3');
  });
});

describe('ICC data from the reader', () => {
  const answering = (fields: string[]) => new ReaderChip({ chipCommand: () => Promise.resolve(fields) });

  it('is refused, naming the tag and never the value, when it carries a PAN or track data', async () => {
    const pan = encodeTlv([{ tag: '5A', value: Buffer.from('4111111111111111', 'hex') }]).toString('base64');
    const err = (await answering([pan])
      .icc('260314', '00')
      .catch((e: unknown) => e)) as Error & { code: string };
    expect(err.code).toBe('READER_PROTOCOL');
    expect(err.message).toContain('tag 5A');
    expect(err.message).not.toContain('4111');
  });

  it('is refused when it is not BER-TLV', async () => {
    await expect(answering([Buffer.from([0x9f, 0x26, 0x08, 0x01]).toString('base64')]).icc('260314', '00')).rejects.toMatchObject({
      code: 'READER_PROTOCOL',
    });
  });
});
