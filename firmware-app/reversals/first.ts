import { sleep, type Clock, type TimerHandle } from '../../drivers/base/clock.js';
import { PosError } from '../../drivers/base/errors.js';

/** What the payments engine asks before a financial request leaves for the host. */
export interface ReversalFirstGate {
  /**
   * Resolves once no reversal is pending (none was, or every one was acknowledged);
   * calls `onSending` first when there is one to deliver. Rejects with
   * ReversalFirstError when they could not all be delivered within the bound.
   */
  deliverPending(onSending: () => void): Promise<void>;
}

/** The next financial request was not sent: a pending reversal could not be delivered first. */
export class ReversalFirstError extends PosError {
  constructor(pending: number, timeoutMs: number) {
    super('REVERSAL_FIRST_UNDELIVERED', `${pending} pending reversal(s) not acknowledged within ${timeoutMs} ms; nothing sent`, {
      pending,
      timeoutMs,
    });
  }
}

export interface ReversalFirstSettings {
  enabled: boolean;
  /** How long a payment waits for the pending reversals' acknowledgement before it is refused. */
  timeoutMs: number;
}

/** Between two drains of a host that refuses connections, so the wait does not spin. */
const RETRY_PAUSE_MS = 250;

/**
 * The acquirer rule "reversal first": while a reversal is unacknowledged, the host cannot
 * tell whether the customer was charged, so the next 0200 waits until the reversal is
 * through, and is refused (nothing sent) when that takes longer than the bound.
 */
export class ReversalFirst implements ReversalFirstGate {
  constructor(
    private readonly reversals: { pendingCount(): number; drain(): Promise<{ remaining: number }> },
    private readonly settings: ReversalFirstSettings,
    private readonly clock: Clock,
  ) {}

  async deliverPending(onSending: () => void): Promise<void> {
    if (!this.settings.enabled || this.reversals.pendingCount() === 0) return;
    onSending();
    let timer: TimerHandle | undefined;
    const late = new Promise<'late'>((resolve) => {
      timer = this.clock.setTimeout(() => resolve('late'), this.settings.timeoutMs);
    });
    try {
      for (;;) {
        const pass = await Promise.race([this.reversals.drain().then((d) => d.remaining), late]);
        if (pass === 0) return;
        if (pass === 'late') break;
        if ((await Promise.race([sleep(this.clock, RETRY_PAUSE_MS), late])) === 'late') break;
      }
    } finally {
      if (timer) this.clock.clearTimeout(timer);
    }
    const pending = this.reversals.pendingCount();
    if (pending > 0) throw new ReversalFirstError(pending, this.settings.timeoutMs);
  }
}
