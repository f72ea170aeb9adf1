import { describe, expect, it } from 'vitest';
import { ReversalFirst, ReversalFirstError } from '../../firmware-app/reversals/first.js';
import { ManualClock } from '../support/manual-clock.js';

/** A reversal queue whose drains succeed only from the given attempt on (never when 0). */
function queue(pending: number, acknowledgedOnDrain: number) {
  const q = {
    pending,
    drains: 0,
    pendingCount: () => q.pending,
    drain: () => {
      q.drains++;
      if (acknowledgedOnDrain > 0 && q.drains >= acknowledgedOnDrain) q.pending = 0;
      return Promise.resolve({ remaining: q.pending });
    },
  };
  return q;
}

const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('reversal first', () => {
  it('lets a payment go at once, silently, when no reversal is pending', async () => {
    const q = queue(0, 1);
    const shown: string[] = [];
    await new ReversalFirst(q, { enabled: true, timeoutMs: 1000 }, new ManualClock()).deliverPending(() => shown.push('sending'));
    expect(shown).toEqual([]);
    expect(q.drains).toBe(0);
  });

  it('tells the cashier, and lets the payment go once the pending reversal is acknowledged', async () => {
    const clock = new ManualClock();
    const q = queue(1, 3);
    const shown: string[] = [];
    let done = false;
    const gate = new ReversalFirst(q, { enabled: true, timeoutMs: 10_000 }, clock)
      .deliverPending(() => shown.push('sending'))
      .then(() => (done = true));
    await settle();
    expect(shown).toEqual(['sending']);
    expect(done).toBe(false);
    clock.advance(250);
    await settle();
    clock.advance(250);
    await gate;
    expect(q.drains).toBe(3);
  });

  it('refuses the payment with a clear reason when the reversal is not acknowledged within the bound', async () => {
    const clock = new ManualClock();
    const q = queue(2, 0);
    const outcome = new ReversalFirst(q, { enabled: true, timeoutMs: 1000 }, clock)
      .deliverPending(() => undefined)
      .catch((e: unknown) => e);
    for (let i = 0; i < 5; i++) {
      await settle();
      clock.advance(250);
    }
    const err = await outcome;
    expect(err).toBeInstanceOf(ReversalFirstError);
    expect(err).toMatchObject({ code: 'REVERSAL_FIRST_UNDELIVERED', details: { pending: 2, timeoutMs: 1000 } });
    expect(clock.pending).toEqual([]);
  });

  it('can be switched off: payments leave while a reversal is pending', async () => {
    const q = queue(1, 0);
    await new ReversalFirst(q, { enabled: false, timeoutMs: 1000 }, new ManualClock()).deliverPending(() => undefined);
    expect(q.drains).toBe(0);
  });
});
