/**
 * When to check that the host connection is still alive, and when to give up on it.
 *
 * TCP on 4G and Wi-Fi behind NAT goes half-open: the host vanishes with no FIN or RST and the
 * socket stays "connected" for minutes. The only proof of life is a frame from the host, so
 * the link asks for one (an echo, 0800/301) whenever it has heard nothing for too long:
 *
 * - while idle, after `echoIntervalMs` of silence;
 * - while a request waits for its answer, after `probeAfterMs` of silence since it was sent,
 *   so a dead connection is found in seconds instead of at the end of the response timeout
 *   (a live host answers the echo at once even while its issuer is slow).
 *
 * A probe (the sign-on of a new connection counts as one) that hears nothing back within
 * `echoTimeoutMs` means the connection is dead. Any frame from the host answers the question,
 * whichever request it belongs to. Pure: the caller passes the time and acts on the answer.
 */
export interface LivenessSettings {
  echoIntervalMs: number;
  echoTimeoutMs: number;
  probeAfterMs: number;
}

/** What the link knows about one connection. Times are clock milliseconds. */
export interface ConnectionView {
  /** The last frame received from the host (the connect time before the first). */
  lastHeardAt: number;
  /** When the oldest request still waiting for its answer was sent; null when none waits. */
  oldestWaitingSince: number | null;
  /** When the probe now outstanding was sent; null when none is, or the host was heard since. */
  probeSentAt: number | null;
}

export type LivenessAction = { kind: 'probe' } | { kind: 'dead' } | { kind: 'wait'; until: number };

export function nextLivenessAction(settings: LivenessSettings, view: ConnectionView, now: number): LivenessAction {
  if (view.probeSentAt !== null) {
    const deadline = view.probeSentAt + settings.echoTimeoutMs;
    return now >= deadline ? { kind: 'dead' } : { kind: 'wait', until: deadline };
  }
  let due = view.lastHeardAt + settings.echoIntervalMs;
  if (view.oldestWaitingSince !== null) {
    due = Math.min(due, Math.max(view.lastHeardAt, view.oldestWaitingSince) + settings.probeAfterMs);
  }
  return now >= due ? { kind: 'probe' } : { kind: 'wait', until: due };
}
