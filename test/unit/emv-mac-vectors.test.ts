import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cardByName } from '../../sim/cards.js';
import { DukptDevice } from '../../sim/crypto/dukpt.js';
import { deviceMac } from '../../sim/crypto/message-mac.js';
import { TEST_INITIAL_KEY_ID, TEST_READER_INITIAL_KEY } from '../../sim/crypto/test-keys.js';
import { SimChip } from '../../sim/emv/chip.js';
import { cardMasterKey, sessionKey } from '../../sim/emv/cryptogram.js';
import { chipCommand } from '../../sim/emv/reader-commands.js';
import { decodeTlv, encodeTlv } from '../../sim/emv/tlv.js';
import { decode, encode, type WireMessage } from '../../sim/host/codec.js';
import { parseFrame } from '../../sim/reader/frame.js';
import { macInput } from '../../sim/host/message-mac.js';
import { AcquirerRules } from '../../sim/host/rules.js';

/**
 * The chip and MAC examples of the protocol documents (card-reader.md section 10,
 * host-iso8583.md 10.17 and 10.18), recomputed with the simulator's card, reader and host,
 * and the issuer's decisions a cardholder or merchant would notice.
 */
const DOCS = join(import.meta.dirname, '..', '..', 'docs', 'protocols');
const HOST_DOC = readFileSync(join(DOCS, 'host-iso8583.md'), 'utf8');
const READER_DOC = readFileSync(join(DOCS, 'card-reader.md'), 'utf8');

function vector(title: string): Buffer {
  const m = new RegExp(
    `### ${title.replace('.', '\\.')} [^\\n]*\\n[\\s\\S]*?As one hex string[^\\n]*\\n\\n\`\`\`text\\n([0-9a-f\\n]+)\`\`\``,
  ).exec(HOST_DOC);
  if (!m) throw new Error(`no vector ${title}`);
  return Buffer.from(m[1]!.replace(/\n/g, ''), 'hex');
}

function exampleValue(label: string): string {
  const block = READER_DOC.slice(READER_DOC.indexOf('<!-- emv-example -->'));
  const m = new RegExp(`^${label}\\s+(\\S+)`, 'm').exec(block);
  if (!m) throw new Error(`no ${label} in the example`);
  return m[1]!.toLowerCase();
}

const REQUEST = vector('10.17');
const ANSWER = vector('10.18');
const KSN = Buffer.from('123456789012345600000002', 'hex');
/** The reader of the example: the test keys, its counter after the blob of section 4.3 (KSN counter 1). */
const device = (): DukptDevice => new DukptDevice(TEST_READER_INITIAL_KEY, TEST_INITIAL_KEY_ID, 1);
const chipAt = (card = 'visa-chip'): SimChip => {
  const chip = new SimChip(() => Buffer.from('11223344', 'hex'));
  chip.cardRead({ card: cardByName(card), amountMinor: 1234, currencyAlpha: 'CNY' });
  return chip;
};
const rules = (): AcquirerRules => new AcquirerRules({ currentYymm: () => '2603' });

describe('the worked example of card-reader.md 10.4', () => {
  it('derives the documented card key, session key and ARQC, and the card builds the ICC data of 10.17', () => {
    expect(cardMasterKey('4111111111111111').toString('hex')).toBe(exampleValue('card master key MK'));
    expect(sessionKey(cardMasterKey('4111111111111111'), 1).toString('hex')).toBe(exampleValue('session key SK'));
    const icc = chipAt().firstCryptogram('260314', '00')!;
    expect(
      decodeTlv(icc)
        .find((t) => t.tag === '9F26')!
        .value.toString('hex'),
    ).toBe(exampleValue('ARQC \\(9F26\\)'));
    expect(decode(REQUEST).fields.get(55)).toEqual(icc);
  });
});

describe('host-iso8583.md 10.17 and 10.18', () => {
  it('the 0200 MAC is the reader’s MAC of every byte before it (62 as zeros), under the KSN of field 62', () => {
    const req = decode(REQUEST);
    expect(req.fields.get(62)).toEqual(KSN);
    const input = Buffer.from(REQUEST.subarray(0, -8));
    const at62 = input.indexOf(KSN);
    input.fill(0, at62, at62 + 12);
    expect(macInput(req)).toEqual(input);
    expect(deviceMac(device(), KSN, 'request', input)).toEqual(req.fields.get(64));
  });

  it('the simulated host approves the 0200, verifies its ARQC and answers 91 and a MAC the reader accepts', () => {
    const host = rules();
    const answer = host.process(decode(REQUEST), '0200', undefined);
    expect(answer.fields.get(39)).toBe('00');
    expect(host.ledger.all()[0]!.cryptogram).toBe('verified');
    expect(encode(answer).subarray(-8)).toEqual(answer.fields.get(64));
    const dev = device();
    dev.nextKsn();
    expect(
      chipCommand(
        'MACV',
        [
          KSN.toString('hex').toUpperCase(),
          macInput(answer).toString('base64'),
          (answer.fields.get(64) as Buffer).toString('hex').toUpperCase(),
        ],
        chipAt(),
        dev,
      ),
    ).toEqual({ ok: ['VALID'] });
    expect(answer.fields.get(55)).toEqual(decode(ANSWER).fields.get(55));
  });

  it('the documented 0210 MAC verifies under the answer key, and the card answers the documented TC to its 91', () => {
    const ans = decode(ANSWER);
    expect(deviceMac(device(), KSN, 'answer', macInput(ans))).toEqual(ans.fields.get(64));
    const chip = chipAt();
    chip.firstCryptogram('260314', '00');
    const done = chip.complete('00', ans.fields.get(55) as Buffer)!;
    expect(done.kind).toBe('TC');
    expect(
      decodeTlv(done.tlv)
        .find((t) => t.tag === '9F26')!
        .value.toString('hex'),
    ).toBe(exampleValue('TC after COMPLETE,00'));
  });
});

function withField(bytes: Buffer, n: number, value: Buffer | undefined): WireMessage {
  const msg = decode(bytes);
  if (value) msg.fields.set(n, value);
  else msg.fields.delete(n);
  return msg;
}

describe('what the simulated issuer decides', () => {
  it('a request whose MAC was changed is answered 63 and posts nothing', () => {
    const host = rules();
    const answer = host.process(withField(REQUEST, 64, Buffer.alloc(8)), '0200', undefined);
    expect(answer.fields.get(39)).toBe('63');
    expect(host.ledger.all()).toEqual([]);
  });

  it('a cryptogram changed on the way is declined 05', () => {
    const icc = decodeTlv(decode(REQUEST).fields.get(55) as Buffer).map((t) =>
      t.tag === '9F26' ? { tag: t.tag, value: Buffer.alloc(8) } : t,
    );
    const host = rules();
    const msg = withField(REQUEST, 55, encodeTlv(icc));
    msg.fields.delete(64);
    msg.fields.delete(62);
    expect(host.process(msg, '0200', undefined).fields.get(39)).toBe('05');
    expect(host.ledger.all()[0]!.cryptogram).toBe('failed');
  });

  it('ICC data carrying a PAN tag is a format error (30)', () => {
    const msg = withField(REQUEST, 55, encodeTlv([{ tag: '5A', value: Buffer.from('4111111111111111', 'hex') }]));
    msg.fields.delete(64);
    msg.fields.delete(62);
    expect(rules().process(msg, '0200', undefined).fields.get(39)).toBe('30');
  });

  it('a card flagged to decline after approval answers AAC to a genuine 91; a good card refuses a wrong 91', () => {
    const declines = chipAt('visa-chip-declines');
    declines.firstCryptogram('260314', '00');
    expect(declines.complete('00', Buffer.alloc(0))!.kind).toBe('AAC');
    const good = chipAt();
    good.firstCryptogram('260314', '00');
    const wrong91 = encodeTlv([{ tag: '91', value: Buffer.from('00000000000000003030', 'hex') }]);
    const done = good.complete('00', wrong91)!;
    expect(done.kind).toBe('AAC');
    expect(
      decodeTlv(done.tlv)
        .find((t) => t.tag === '95')!
        .value.toString('hex'),
    ).toBe('0000004000');
  });

  it('an offline approval (Y3) gives a TC that the host verifies in the advice, and a queued script reaches the card', () => {
    const chip = chipAt();
    const first = chip.firstCryptogram('260314', '00')!;
    const script = encodeTlv([{ tag: '72', value: encodeTlv([{ tag: '9F18', value: Buffer.from('00000001', 'hex') }]) }]);
    const done = chip.complete('Y3', script)!;
    expect(done.kind).toBe('TC');
    expect(chip.scriptsDelivered).toEqual([script.toString('hex').toUpperCase()]);
    const tc = decodeTlv(done.tlv);
    const advice55 = encodeTlv([...tc, ...decodeTlv(first).filter((t) => !tc.some((x) => x.tag === t.tag))]);
    const advice = decode(REQUEST);
    advice.mti = '0220';
    for (const n of [62, 64]) advice.fields.delete(n);
    advice.fields.set(55, advice55);
    const host = rules();
    expect(host.process(advice, '0220', undefined).fields.get(39)).toBe('00');
    expect(host.ledger.all()[0]!.cryptogram).toBe('verified');
  });
});

describe('the MAC and MACV frames of card-reader.md 10.5', () => {
  const section = READER_DOC.slice(READER_DOC.indexOf('### 10.5 MAC'));
  const frames = [...section.matchAll(/^[<>] (\$\S+)$/gm)].slice(0, 5).map((m) => parseFrame(m[1]!));

  it('carry the MAC input of 10.17 and 10.18 (62 as zeros) and the MACs of their field 64, with valid checksums', () => {
    const [mac, macAnswer, macv] = frames;
    expect(mac).toMatchObject({ command: 'MAC' });
    expect(Buffer.from(mac!.fields[0]!, 'base64')).toEqual(macInput(decode(REQUEST)));
    expect(macAnswer!.fields).toEqual([
      'OK',
      KSN.toString('hex').toUpperCase(),
      (decode(REQUEST).fields.get(64) as Buffer).toString('hex').toUpperCase(),
    ]);
    expect(macv).toMatchObject({ command: 'MACV' });
    expect(macv!.fields[0]).toBe(KSN.toString('hex').toUpperCase());
    expect(Buffer.from(macv!.fields[1]!, 'base64')).toEqual(macInput(decode(ANSWER)));
    expect(macv!.fields[2]).toBe((decode(ANSWER).fields.get(64) as Buffer).toString('hex').toUpperCase());
    expect(chipCommand('MAC', [mac!.fields[0]!], chipAt(), device())).toEqual({ ok: macAnswer!.fields.slice(1) });
  });
});
