import { describe, expect, it } from 'vitest';
import { nextLivenessAction, type ConnectionView, type LivenessSettings } from '../../firmware-app/host/liveness.js';

const SETTINGS: LivenessSettings = { echoIntervalMs: 8_000, echoTimeoutMs: 5_000, probeAfterMs: 3_000 };
const T0 = 1_800_000_000_000;

function view(v: Partial<ConnectionView>): ConnectionView {
  return { lastHeardAt: T0, oldestWaitingSince: null, probeSentAt: null, ...v };
}

describe('host link liveness', () => {
  it('leaves an idle connection alone until the echo interval of silence has passed, then probes', () => {
    expect(nextLivenessAction(SETTINGS, view({}), T0 + 7_999)).toEqual({ kind: 'wait', until: T0 + 8_000 });
    expect(nextLivenessAction(SETTINGS, view({}), T0 + 8_000)).toEqual({ kind: 'probe' });
  });

  it('probes a request left unanswered for probeAfterMs, long before the idle echo would', () => {
    const waiting = view({ oldestWaitingSince: T0 + 1_000 });
    expect(nextLivenessAction(SETTINGS, waiting, T0 + 3_999)).toEqual({ kind: 'wait', until: T0 + 4_000 });
    expect(nextLivenessAction(SETTINGS, waiting, T0 + 4_000)).toEqual({ kind: 'probe' });
  });

  it('counts the wait from the last frame heard when the host spoke after the request left', () => {
    const heardSince = view({ oldestWaitingSince: T0, lastHeardAt: T0 + 2_500 });
    expect(nextLivenessAction(SETTINGS, heardSince, T0 + 5_000)).toEqual({ kind: 'wait', until: T0 + 5_500 });
  });

  it('declares a connection dead once a probe has gone echoTimeoutMs without a frame back', () => {
    const probing = view({ oldestWaitingSince: T0 + 1_000, probeSentAt: T0 + 4_000 });
    expect(nextLivenessAction(SETTINGS, probing, T0 + 8_999)).toEqual({ kind: 'wait', until: T0 + 9_000 });
    expect(nextLivenessAction(SETTINGS, probing, T0 + 9_000)).toEqual({ kind: 'dead' });
  });

  it('gives up on a sale sent on a silently dead connection within ten seconds of the send', () => {
    const sentAt = T0 + 500;
    let now = sentAt;
    let probeSentAt: number | null = null;
    for (;;) {
      const action = nextLivenessAction(SETTINGS, view({ oldestWaitingSince: sentAt, probeSentAt }), now);
      if (action.kind === 'dead') break;
      if (action.kind === 'probe') probeSentAt = now;
      else now = action.until;
    }
    expect(now - sentAt).toBeLessThanOrEqual(10_000);
  });

  it('takes a silent idle connection out of service within fifteen seconds of the last frame', () => {
    let now = T0;
    let probeSentAt: number | null = null;
    for (;;) {
      const action = nextLivenessAction(SETTINGS, view({ probeSentAt }), now);
      if (action.kind === 'dead') break;
      if (action.kind === 'probe') probeSentAt = now;
      else now = action.until;
    }
    expect(now - T0).toBeLessThanOrEqual(15_000);
  });
});
