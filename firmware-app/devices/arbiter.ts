import { PosError } from '../../drivers/base/errors.js';
import { PaymentInProgressError } from '../payments/errors.js';

/** Another device action holds the reader (a technician's card-read test, or a payment). */
export class DeviceBusyError extends PosError {
  constructor(busyWith: string) {
    super('DEVICE_BUSY', `the card reader is busy (${busyWith}); try again when it is done`, { busyWith });
  }
}

export type DeviceAction = 'payment' | 'card-read test' | 'reader info';

/**
 * One lock for every action that drives the card reader: payments and the technician's
 * card-read test and device info. Two of them never race for the reader; the second is refused at once
 * with a typed error instead of queueing behind a card that may never come.
 */
export class DeviceArbiter {
  private holder: { what: DeviceAction; done: Promise<unknown> } | undefined;

  get busy(): boolean {
    return this.holder !== undefined;
  }

  /** Settles when the action holding the lock (if any) has finished, successfully or not. */
  idle(): Promise<void> {
    return this.holder
      ? this.holder.done.then(
          () => undefined,
          () => undefined,
        )
      : Promise.resolve();
  }

  async run<T>(what: DeviceAction, action: () => Promise<T>): Promise<T> {
    if (this.holder)
      throw this.holder.what === 'payment' && what === 'payment' ? new PaymentInProgressError() : new DeviceBusyError(this.holder.what);
    // Held before the action starts: its synchronous first steps (a progress callback) already see the lock.
    const holder: { what: DeviceAction; done: Promise<unknown> } = { what, done: Promise.resolve() };
    this.holder = holder;
    try {
      const done = action();
      holder.done = done;
      return await done;
    } finally {
      this.holder = undefined;
    }
  }
}
