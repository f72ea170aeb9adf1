import { once } from 'node:events';
import { createServer, connect, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { SerialPort } from 'serialport';
import { PtyPair } from '../../sim/pty.js';
import { now } from './rig.js';
import { summarize, type Summary } from './stats.js';

const SAMPLES = 300;
const PAYLOAD = Buffer.alloc(120, 0x41);

/** Times `SAMPLES` one-way hops: `send` writes, the receiving side calls `arrived` on the first byte. */
async function oneWay(send: () => void, onData: (listener: () => void) => void): Promise<Summary> {
  const samples: number[] = [];
  let waiting: (() => void) | undefined;
  onData(() => waiting?.());
  for (let i = 0; i < SAMPLES; i++) {
    const t0 = now();
    await new Promise<void>((resolve) => {
      waiting = resolve;
      send();
    });
    waiting = undefined;
    samples.push(now() - t0);
    // Lets the rest of the payload drain before the next hop.
    await new Promise((resolve) => setImmediate(resolve));
  }
  return summarize(samples);
}

/** A byte written at one end of a socat pseudo-terminal pair, seen at the other: the floor of a serial hop here. */
async function ptyHop(workDir: string): Promise<Summary> {
  const pty = new PtyPair(join(workDir, 'transit-pty'), join(workDir, 'transit-pty.sim'));
  await pty.start();
  const a = new SerialPort({ path: pty.devicePath, baudRate: 115200, autoOpen: false, lock: false });
  const b = new SerialPort({ path: pty.simPath, baudRate: 115200, autoOpen: false, lock: false });
  try {
    await new Promise<void>((resolve, reject) => a.open((err) => (err ? reject(err) : resolve())));
    await new Promise<void>((resolve, reject) => b.open((err) => (err ? reject(err) : resolve())));
    return await oneWay(
      () => a.write(PAYLOAD),
      (listener) => b.on('data', listener),
    );
  } finally {
    await new Promise((resolve) => a.close(resolve));
    await new Promise((resolve) => b.close(resolve));
    await pty.stop();
  }
}

/** A message written on a loopback TCP connection (no Nagle), seen by the peer: the floor of a host hop here. */
async function tcpHop(): Promise<Summary> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const accepted = once(server, 'connection');
  const client = connect((server.address() as AddressInfo).port, '127.0.0.1');
  client.setNoDelay(true);
  const [peer] = (await accepted) as [import('node:net').Socket];
  try {
    return await oneWay(
      () => client.write(PAYLOAD),
      (listener) => peer.on('data', listener),
    );
  } finally {
    client.destroy();
    peer.destroy();
    server.close();
  }
}

/** The transit floors B3's legs cannot beat: each crosses one pty and one loopback connection. */
export async function transitFloors(workDir: string): Promise<{ pty: Summary; tcp: Summary }> {
  return { pty: await ptyHop(workDir), tcp: await tcpHop() };
}
