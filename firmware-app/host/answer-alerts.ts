import { raiseAndReport, type AlertReporting } from '../alerts/upstream.js';
import type { Logger } from '../logging/logger.js';
import type { HostProtocolError } from './errors.js';
import type { HostLink } from './link.js';

export const INVALID_ANSWER_ALERT = 'host-answer-invalid';

/**
 * A host whose answers do not fit the terminal's requests is a host a person must look at
 * (a wrong amount, currency or merchant echoed back means the two disagree about money):
 * every invalid answer raises a critical alert, locally and upstream. One alert per
 * exchange (MTI + STAN), so a second bad answer is not hidden behind the first.
 */
export function attachInvalidAnswerAlerts(
  link: Pick<HostLink, 'on'>,
  deps: AlertReporting & { logger: Logger; onUpstreamEvent: () => void },
): void {
  link.on('invalid-answer', (err: HostProtocolError) => {
    const { mti, stan, problem } = err.details as { mti?: string; stan?: string; problem: string };
    try {
      const raised = raiseAndReport(deps, {
        key: `${INVALID_ANSWER_ALERT}:${mti ?? '?'}:${stan ?? '?'}`,
        severity: 'critical',
        message: `host answer to ${mti ?? '?'} STAN ${stan ?? '?'} does not fit the request; treated as unanswered`,
        detail: { mti, stan, problem },
      });
      if (raised) deps.onUpstreamEvent();
    } catch (alertErr) {
      // The alert is a report about the exchange, not part of it: the payment path goes on.
      deps.logger.error({ err: alertErr }, 'could not record the invalid-answer alert');
    }
  });
}
