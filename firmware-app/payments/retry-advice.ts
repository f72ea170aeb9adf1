import type { OfflineDecision } from './offline-rules.js';

/**
 * What a retry of a payment that is being reversed would do if the cashier rang it now. A
 * link that is not ready (a dead connection was just given up) sends a retry down the
 * offline path at once, so the advice never points the cashier into a second dead wait.
 */
export type RetryAdvice = 'online' | 'offline' | 'other-method';

export function retryAdvice(linkReady: boolean, offline: () => OfflineDecision): RetryAdvice {
  if (linkReady) return 'online';
  return offline().approve ? 'offline' : 'other-method';
}
