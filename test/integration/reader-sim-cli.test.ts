import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../drivers/base/logger.js';
import { CardReaderClient } from '../../drivers/card-reader/client.js';
import { ReaderDisconnectedError } from '../../drivers/card-reader/errors.js';
import { workingKeyFromBdk } from '../../sim/crypto/dukpt.js';
import { decipherPinBlock4 } from '../../sim/crypto/pin-block-4.js';
import { TEST_BDK } from '../../sim/crypto/test-keys.js';
import { REPO } from '../support/terminal-process.js';

const WAIT_MS = 20_000;
let child: ChildProcess | undefined;
let client: CardReaderClient | undefined;

/** Starts the built `npm run sim` with reader flags and returns the reader's device path. */
async function startSim(flags: string[]): Promise<string> {
  const proc = spawn(process.execPath, [join(REPO, 'dist', 'sim', 'cli.js'), '--json', ...flags], { stdio: ['pipe', 'pipe', 'pipe'] });
  child = proc;
  let out = '';
  proc.stdout.on('data', (d: Buffer) => {
    out += d.toString();
  });
  const deadline = Date.now() + WAIT_MS;
  while (!out.includes('\n')) {
    if (Date.now() > deadline || proc.exitCode !== null) throw new Error(`simulator did not start: ${out}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  return (JSON.parse(out.split('\n')[0]!) as { readerPath: string }).readerPath;
}

afterEach(async () => {
  await client?.close();
  client = undefined;
  if (child && child.exitCode === null) {
    const exited = new Promise((resolve) => child!.once('exit', resolve));
    child.kill('SIGINT');
    await exited;
  }
  child = undefined;
});

describe('npm run sim: reader flags', () => {
  it('--reader-corrupt, --pin, --unplug-after and --replug-after script the reader a terminal meets', async () => {
    const path = await startSim(['--reader-corrupt', '2', '--pin', '4321', '--unplug-after', '6000', '--replug-after', '1500']);
    client = new CardReaderClient({ path, healthProbeMs: 200, reconnectMinMs: 50, reconnectMaxMs: 200 }, { logger: silentLogger });
    const states: string[] = [];
    client.on('state', (s: string) => states.push(s));
    expect(await client.connect()).toBe(true);
    // The first two answers arrive damaged and are retransmitted.
    const card = await client.read({ amount: 100, currency: 'CNY', timeoutMs: 10_000 });
    expect(card.last4).toBe('1111');
    const pin = await client.pin(10_000);
    expect(
      pin.bypassed === false && decipherPinBlock4(workingKeyFromBdk(TEST_BDK, pin.ksn, 'pinEncryption'), pin.pinBlock, '4111111111111111'),
    ).toBe('4321');

    const deadline = Date.now() + WAIT_MS;
    while (!states.includes('disconnected') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(states).toContain('disconnected');
    await expect(client.read({ amount: 100, currency: 'CNY', timeoutMs: 10_000 })).rejects.toBeInstanceOf(ReaderDisconnectedError);
    expect(await client.waitConnected(WAIT_MS)).toBe(true);
    expect((await client.read({ amount: 100, currency: 'CNY', timeoutMs: 10_000 })).last4).toBe('1111');
  });

  it('--reader-cancel: the cardholder cancels every READ', async () => {
    const path = await startSim(['--reader-cancel']);
    client = new CardReaderClient({ path, healthProbeMs: 0 }, { logger: silentLogger });
    expect(await client.connect()).toBe(true);
    await expect(client.read({ amount: 100, currency: 'CNY', timeoutMs: 10_000 })).rejects.toMatchObject({ code: 'READER_CANCELLED' });
    await expect(client.read({ amount: 100, currency: 'CNY', timeoutMs: 10_000 })).rejects.toMatchObject({ code: 'READER_CANCELLED' });
  });

  it('refuses a malformed flag with a message and exit code 2', async () => {
    const proc = spawn(process.execPath, [join(REPO, 'dist', 'sim', 'cli.js'), '--pin', '12'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let err = '';
    proc.stderr.on('data', (d: Buffer) => {
      err += d.toString();
    });
    const code = await new Promise<number | null>((resolve) => proc.once('exit', resolve));
    expect(code).toBe(2);
    expect(err).toContain('--pin');
  });
});
