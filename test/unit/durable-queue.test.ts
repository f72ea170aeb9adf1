import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../drivers/base/logger.js';
import { openDatabase, type Db } from '../../firmware-app/store/db.js';
import { DurableQueue, type Outcome, type QueueSettings, type Verdict } from '../../firmware-app/store/durable-queue.js';
import { outboxRepo, type OutboxRow } from '../../firmware-app/store/outbox-repo.js';
import { ManualClock } from '../support/manual-clock.js';

type Reply = 'ok' | 'fail' | 'hang';

/**
 * The shared queue on a real SQLite file (the outbox table), with a peer that answers as the
 * test scripts it and records what it received and what the row said at that moment.
 */
function setup(settings: Partial<QueueSettings> = {}) {
  const db = openDatabase(join(mkdtempSync(join(tmpdir(), 'pos-queue-')), 'pos.db'));
  dbs.push(db);
  const clock = new ManualClock();
  const repo = outboxRepo(db);
  const replies: Reply[] = [];
  const received: { ids: string[]; countedBefore: number[] }[] = [];
  const countOf = (eventId: string) =>
    db.prepare<[string], { attempts: number }>(`SELECT attempts FROM outbox WHERE event_id = ?`).get(eventId)!.attempts;
  const queue = new DurableQueue<OutboxRow, Reply>(
    {
      repo,
      clock,
      logger: silentLogger,
      random: () => 1,
      user: {
        transmit: (batch) => {
          received.push({ ids: batch.map((r) => r.eventId), countedBefore: batch.map((r) => countOf(r.eventId)) });
          const reply = replies.shift() ?? 'ok';
          return reply === 'hang' ? new Promise<Reply>(() => undefined) : Promise.resolve(reply);
        },
        classify: (outcome: Outcome<Reply>): Verdict =>
          outcome.ok && outcome.answer === 'ok' ? { kind: 'done' } : { kind: 'retry', error: 'peer refused', attempt: true, sent: true },
        finish: (batch) =>
          repo.delivered(
            batch.map((r) => r.id),
            clock.now(),
          ),
      },
    },
    { name: 'test', window: 1, batchSize: 1, backoffMinMs: 1000, backoffMaxMs: 8000, ...settings },
  );
  const add = (eventId: string) => repo.enqueue({ eventId, type: 'test', payload: {} }, clock.now());
  return { db, clock, queue, replies, received, add, countOf };
}

const dbs: Db[] = [];
afterEach(() => {
  for (const db of dbs.splice(0)) db.close();
});

const settle = async () => {
  for (let i = 0; i < 5; i++) await new Promise<void>((resolve) => setImmediate(resolve));
};

describe('the durable queue shared by SAF, reversals, the outbox and print jobs', () => {
  it('commits each send before the peer receives it, and a started queue wakes for a new row by itself', async () => {
    const { queue, received, add, countOf } = setup();
    queue.start();
    add('e1');
    await settle();
    expect(received).toEqual([{ ids: ['e1'], countedBefore: [1] }]);
    expect(countOf('e1')).toBe(1);
    await queue.stop();
  });

  it('backs off a failed row with the shared backoff and sends it again when it comes due', async () => {
    const { clock, queue, replies, received, add } = setup();
    replies.push('fail', 'fail');
    queue.start();
    add('e1');
    await settle();
    expect(clock.pending).toEqual([1000]);
    clock.advance(1000);
    await settle();
    expect(clock.pending).toEqual([2000]);
    clock.advance(2000);
    await settle();
    expect(received.map((r) => r.countedBefore)).toEqual([[1], [2], [3]]);
    expect(clock.pending).toEqual([]);
    await queue.stop();
  });

  it('a forced drain tries every waiting row once, ignoring the backoff, and reports what is left', async () => {
    const { queue, replies, received, add } = setup({ window: 4 });
    add('e1');
    add('e2');
    replies.push('fail', 'fail');
    expect(await queue.drain()).toEqual({ sent: 2, remaining: 2 });
    replies.push('ok', 'fail');
    expect(await queue.drain()).toEqual({ sent: 0, remaining: 2 });
    expect(await queue.drain({ force: true })).toEqual({ sent: 2, remaining: 1 });
    expect(received.map((r) => r.ids[0])).toEqual(['e1', 'e2', 'e1', 'e2']);
  });

  it('holds back the rows behind a failed one when order matters', async () => {
    const { queue, replies, received, add } = setup({ haltOnRetry: true });
    add('e1');
    add('e2');
    replies.push('fail');
    expect(await queue.drain()).toEqual({ sent: 1, remaining: 2 });
    expect(received.map((r) => r.ids)).toEqual([['e1']]);
  });

  it('stops within its grace period while a transmission hangs, and the row stays queued with its send counted', async () => {
    const { db, clock, queue, replies, add, countOf } = setup();
    replies.push('hang');
    queue.start();
    add('e1');
    await settle();
    let stopped = false;
    const stopping = queue.stop(3000).then(() => (stopped = true));
    await settle();
    expect(stopped).toBe(false);
    clock.advance(3000);
    await stopping;
    expect(countOf('e1')).toBe(1);
    expect(outboxRepo(db).waiting()).toBe(1);
  });
});
