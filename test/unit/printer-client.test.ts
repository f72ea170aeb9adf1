import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../drivers/base/logger.js';
import { PrinterClient } from '../../drivers/printer/client.js';
import { PrinterDisconnectedError, PrinterNotReadyError, PrinterTimeoutError } from '../../drivers/printer/errors.js';
import { encodeStatusByte, type PrinterStatus } from '../../drivers/printer/status.js';
import { FakeClock, fakePortFactory } from '../support/fake-serial.js';

const READY: PrinterStatus = {
  online: true,
  coverOpen: false,
  paperNearEnd: false,
  paperEnd: false,
  cutterError: false,
  unrecoverableError: false,
  autoRecoverableError: false,
  recoverableError: false,
  drawerOpen: false,
};

const flush = async () => {
  for (let i = 0; i < 5; i++) await new Promise<void>((resolve) => setImmediate(resolve));
};

async function rig(statusTimeoutMs = 1000) {
  const ports = fakePortFactory();
  const clock = new FakeClock();
  const client = new PrinterClient(
    { path: '/dev/ttyPRN', baudRate: 115200, statusTimeoutMs, writeMarginMs: 500 },
    { logger: silentLogger, clock, portFactory: ports.factory },
  );
  await client.connect();
  let answered = 0;
  /** Answers the next DLE EOT n the client wrote and is still waiting for, as a printer in `status` would. */
  const answer = async (status: PrinterStatus) => {
    await flush();
    const requests = [...ports.current.written.join('').matchAll(/\x10\x04([\x01-\x04])/g)].map(
      (m) => m[1]!.charCodeAt(0) as 1 | 2 | 3 | 4,
    );
    const n = requests[answered];
    expect(n).toBeDefined();
    answered++;
    ports.current.feed(Buffer.from([encodeStatusByte(n!, status)]));
  };
  return { client, clock, ports, answer };
}

describe('PrinterClient timing and status', () => {
  it('fails a status check with PRINTER_TIMEOUT when the configured time has passed, not before', async () => {
    const { client, clock } = await rig(1000);
    let outcome: unknown;
    client.queryStatus().then(
      (s) => (outcome = s),
      (e: unknown) => (outcome = e),
    );
    await flush();
    clock.advance(999);
    await flush();
    expect(outcome).toBeUndefined();
    clock.advance(1);
    await flush();
    expect(outcome).toBeInstanceOf(PrinterTimeoutError);
    expect((outcome as PrinterTimeoutError).details).toEqual({ what: 'DLE EOT 1', timeoutMs: 1000 });
  });

  it('refuses to send a job into a printer with no paper', async () => {
    const { client, ports, answer } = await rig();
    const job = client.print(Buffer.from('RECEIPT\n'));
    const failed = job.catch((e: unknown) => e);
    for (let i = 0; i < 4; i++) await answer({ ...READY, online: false, paperEnd: true });
    const err = await failed;
    expect(err).toBeInstanceOf(PrinterNotReadyError);
    expect((err as PrinterNotReadyError).details).toEqual({ phase: 'before', status: 'paper out' });
    expect(ports.current.written.join('')).not.toContain('RECEIPT');
  });

  it('counts a job printed only when the status after it is clean', async () => {
    const { client, ports, answer } = await rig();
    const job = client.print(Buffer.from('RECEIPT\n'));
    const failed = job.catch((e: unknown) => e);
    for (let i = 0; i < 4; i++) await answer(READY);
    for (let i = 0; i < 4; i++) await answer({ ...READY, online: false, coverOpen: true });
    const err = await failed;
    expect((err as PrinterNotReadyError).details).toEqual({ phase: 'after', status: 'cover open' });
    expect(ports.current.written.join('')).toContain('RECEIPT');
  });

  it('makes a job given as a function once the status request has left, and prints what it made', async () => {
    const { client, ports, answer } = await rig();
    let writtenWhenMade = '';
    const job = client.print(() => {
      writtenWhenMade = ports.current.written.join('');
      return Buffer.from('RECEIPT\n');
    });
    for (let i = 0; i < 8; i++) await answer(READY);
    expect(await job).toEqual(READY);
    expect(writtenWhenMade).toMatch(/^\x10\x04\x01/);
    expect(writtenWhenMade).not.toContain('RECEIPT');
    expect(ports.current.written.join('')).toContain('RECEIPT');
  });

  it('fails a status check at once when the port is closed under it', async () => {
    const { client } = await rig(60_000);
    const pending = client.queryStatus();
    await flush();
    await client.close();
    await expect(pending).rejects.toBeInstanceOf(PrinterDisconnectedError);
  });
});
