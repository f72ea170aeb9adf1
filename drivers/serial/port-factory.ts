import { SerialPort, SerialPortMock } from 'serialport';
import type { Duplex } from 'node:stream';
import { PosError } from '../base/errors.js';

/** What a device driver needs from a port; satisfied by serialport's streams. */
export interface SerialLink extends Duplex {
  readonly path: string;
  readonly isOpen: boolean;
  open(callback?: (err: Error | null) => void): void;
  close(callback?: (err: Error | null) => void): void;
  drain(callback?: (err: Error | null) => void): void;
}

export class SerialOpenError extends PosError {
  constructor(path: string, cause: unknown) {
    super('SERIAL_OPEN_FAILED', `cannot open serial port ${path}: ${(cause as Error)?.message ?? String(cause)}`, { path }, { cause });
  }
}

export type PortFactory = (path: string, baudRate: number) => SerialLink;

/**
 * Chooses the binding from the path, so pointing the product at a simulator or a test
 * double is a configuration value, not a code path: `mock:NAME` is the in-process
 * MockBinding (unit tests), anything else is a real device or a simulator pty.
 */
export const defaultPortFactory: PortFactory = (path, baudRate) => {
  if (path.startsWith('mock:')) {
    return new SerialPortMock({ path, baudRate, autoOpen: false });
  }
  return new SerialPort({ path, baudRate, autoOpen: false, lock: false });
};

export function openPort(factory: PortFactory, path: string, baudRate: number): Promise<SerialLink> {
  const port = factory(path, baudRate);
  return new Promise((resolve, reject) => {
    port.open((err) => (err ? reject(new SerialOpenError(path, err)) : resolve(port)));
  });
}

export function closePort(port: SerialLink): Promise<void> {
  return new Promise((resolve) => {
    if (!port.isOpen) {
      resolve();
      return;
    }
    port.close(() => resolve());
  });
}
