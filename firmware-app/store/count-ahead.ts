import type { Clock, TimerHandle } from '../../drivers/base/clock.js';
import type { Logger } from '../logging/logger.js';
import type { FinalAnswer, QueueRepository, QueueRow, QueueUser } from './durable-queue.js';

export interface CountAheadDeps<R extends QueueRow, A> {
  repo: QueueRepository<R>;
  user: QueueUser<R, A>;
  clock: Clock;
  log: Logger;
  /** Rows may be counted now (the queue runs and its peer is there). */
  mayCount: () => boolean;
  /** Rows in flight, which no claim may take. */
  inFlight: () => readonly number[];
  /** A commit failed: the queue pauses before its next look. */
  storageFault: () => void;
}

/**
 * The rows a queue has counted as sent ahead of their transmission, and the final answers
 * it has received but not committed yet. One commit settles those answers and counts the
 * next rows (`claim`), so a run of transmissions at window 1 costs one fsync, not one each.
 * A counted row that never leaves is taken back (`settle`, when the pass ends); after a
 * crash it goes as a repeat, which is what a repeat is for.
 */
export class CountAhead<R extends QueueRow, A> {
  private readonly claimed: R[] = [];
  private readonly held: FinalAnswer<R, A>[] = [];
  private timer: TimerHandle | undefined;

  constructor(
    private readonly deps: CountAheadDeps<R, A>,
    private readonly limits: { rows: number; holdMs: number },
  ) {}

  /** Rows counted and not yet sent, and rows answered and not yet committed: still `queued` in the table. */
  ids(): number[] {
    return [...this.claimed.map((r) => r.id), ...this.held.flatMap((h) => h.batch.map((r) => r.id))];
  }

  /** Up to `n` counted rows in queue order; counts the next ones first when none is left. */
  take(n: number, exclude: readonly number[], force: boolean): R[] {
    if (this.claimed.length === 0) this.claim(exclude, force);
    return this.claimed.splice(0, n);
  }

  /** The next `n` counted rows, left in place for `take`. */
  peek(n: number): readonly R[] {
    return this.claimed.slice(0, n);
  }

  /**
   * Counts the next rows once the last counted one has left, while it is on the wire: the
   * commit overlaps the round trip instead of following it.
   */
  refill(exclude: readonly number[], force: boolean): void {
    if (this.claimed.length === 0) this.claim(exclude, force);
  }

  /**
   * A final answer: committed with the next claim (at most `rows` transmissions later), after
   * `holdMs` if that comes first, or now when no pass will claim again.
   */
  hold(answer: FinalAnswer<R, A>, passing: boolean): void {
    this.held.push(answer);
    if (!passing) {
      this.commit([]);
      return;
    }
    if (this.timer) return;
    this.timer = this.deps.clock.setTimeout(() => {
      this.timer = undefined;
      this.commit([]);
    }, this.limits.holdMs);
    this.timer.unref?.();
  }

  /** The pass is over: held answers commit and counted rows that never left are taken back, in one commit. */
  settle(): void {
    this.commit(this.claimed.splice(0));
  }

  private claim(exclude: readonly number[], force: boolean): void {
    const { repo, clock, inFlight, mayCount } = this.deps;
    if (!mayCount()) {
      this.commit([]);
      return;
    }
    const room = this.limits.rows - this.claimed.length;
    const skip = [...inFlight(), ...this.ids(), ...exclude];
    this.commit([], () => {
      const next = repo.due(clock.now(), room, skip, force);
      if (next.length > 0)
        repo.countSends(
          next.map((r) => r.id),
          clock.now(),
        );
      return next;
    });
  }

  /**
   * One commit: the held answers, counted rows taken back (`unsent`), and the rows `count`
   * claims. When it fails nothing of it is durable: the answers are asked for again (a
   * repeat is answered as the original was) and no row was counted.
   */
  private commit(unsent: readonly R[], count?: () => R[]): void {
    if (this.timer) this.deps.clock.clearTimeout(this.timer);
    this.timer = undefined;
    const held = this.held.splice(0);
    if (held.length === 0 && unsent.length === 0 && !count) return;
    const { repo, user, clock, log } = this.deps;
    try {
      const claimed = repo.transaction!(() => {
        for (const h of held) user.finish(h.batch, h.verdict, h.outcome);
        if (unsent.length > 0)
          repo.uncountSends(
            unsent.map((r) => r.id),
            clock.now(),
          );
        return count?.() ?? [];
      });
      this.claimed.push(...claimed);
    } catch (err) {
      this.deps.storageFault();
      log.error(
        { err, answered: held.flatMap((h) => h.batch.map((r) => r.id)) },
        'queue bookkeeping failed; the rows stay queued and go again as repeats',
      );
      return;
    }
    if (held.length > 0) user.committed?.(held);
  }
}
