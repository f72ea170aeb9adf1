/**
 * The one backoff of the terminal: store-and-forward, reversals, the outbox and the host
 * link's reconnect all wait this way.
 *
 * Delay before repeat number `attempt` (1 = after the first failed try): exponential from
 * `minMs`, capped at `maxMs`, with "equal jitter" (half fixed, half random) so a fleet of
 * terminals that lost the host together does not come back in lockstep.
 */
export function backoffDelay(attempt: number, minMs: number, maxMs: number, random: () => number): number {
  const exp = Math.min(maxMs, minMs * 2 ** Math.min(Math.max(attempt - 1, 0), 30));
  return Math.round(exp / 2 + (exp / 2) * random());
}
