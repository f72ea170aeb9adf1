import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../drivers/base/logger.js';
import { ReaderChip } from '../../drivers/card-reader/chip.js';
import { CardReaderClient } from '../../drivers/card-reader/client.js';
import { encodeTlv } from '../../drivers/card-reader/tlv.js';
import { hostMac } from '../../sim/crypto/message-mac.js';
import { TEST_BDK } from '../../sim/crypto/test-keys.js';
import { PtyPair } from '../../sim/pty.js';
import { ReaderSim } from '../../sim/reader/reader-sim.js';

/**
 * The terminal's chip and MAC commands (drivers/card-reader/chip.ts) against the simulated
 * reader over a real pty: the card's ICC data, its second cryptogram, and MACs made in the
 * reader that the host's keys confirm.
 */
let dir: string;
let pty: PtyPair;
let reader: ReaderSim;
let client: CardReaderClient;
let chip: ReaderChip;

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'pos-reader-chip-'));
  pty = new PtyPair(join(dir, 'reader'), join(dir, 'reader.sim'));
  await pty.start();
  reader = new ReaderSim({ path: pty.simPath, tapDelayMs: 20 });
  await reader.start();
  client = new CardReaderClient({ path: pty.devicePath, commandTimeoutMs: 3000 }, { logger: silentLogger });
  chip = new ReaderChip(client);
  expect(await client.connect()).toBe(true);
});

afterEach(async () => {
  await client.close();
  await reader.stop();
  await pty.stop();
  rmSync(dir, { recursive: true, force: true });
});

const sale = { amount: 1234, currency: 'CNY', timeoutMs: 10_000 };

describe('chip and MAC commands over a real pty', () => {
  it('a chip card gives ICC data with an ARQC, then a TC only for a genuine issuer answer', async () => {
    reader.presentCard('visa-chip');
    await client.read(sale);
    const icc = await chip.icc('260314', '00');
    const tags = new Map(icc.objects.map((o) => [o.tag, o.value.toString('hex').toUpperCase()]));
    expect(tags.get('9F27')).toBe('80');
    expect(tags.get('9F02')).toBe('000000001234');
    expect(tags.get('5F2A')).toBe('0156');
    expect(tags.get('9A')).toBe('260314');
    const forged91 = encodeTlv([{ tag: '91', value: Buffer.from('00000000000000003030', 'hex') }]);
    const done = await chip.complete('00', forged91);
    expect(done.decision).toBe('AAC');
    await expect(chip.complete('00', undefined)).rejects.toMatchObject({ code: 'READER_CARD_READ_FAILED' });
  });

  it('a swiped card has no chip: ICC is refused', async () => {
    reader.presentCard('unionpay-swipe');
    await client.read(sale);
    await expect(chip.icc('260314', '00')).rejects.toMatchObject({ code: 'READER_CARD_READ_FAILED' });
  });

  it('the reader MACs with a fresh KSN each time, the host’s key agrees, and it checks answer MACs', async () => {
    const data = Buffer.from('0200 message bytes');
    const first = await chip.mac(data);
    const second = await chip.mac(data);
    expect(first.ksn.equals(second.ksn)).toBe(false);
    expect(hostMac(TEST_BDK, first.ksn, 'request', data)).toEqual(first.mac);
    const answer = Buffer.from('0210 message bytes');
    expect(await chip.verifyMac(first.ksn, answer, hostMac(TEST_BDK, first.ksn, 'answer', answer))).toBe(true);
    // A request MAC replayed as the answer's does not pass, nor does any other.
    expect(await chip.verifyMac(first.ksn, data, first.mac)).toBe(false);
    expect(await chip.verifyMac(first.ksn, answer, Buffer.alloc(8))).toBe(false);
  });
});
