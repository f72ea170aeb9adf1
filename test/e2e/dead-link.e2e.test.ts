import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { reconcile, type JournalRecord } from '../../firmware-app/reconcile/reconcile.js';
import { Simulator } from '../../sim/index.js';
import { NetnsLink } from '../support/netns-link.js';
import { seededRandom, TcpProxy, type RecordedConnection } from '../support/tcp-proxy.js';
import { MAIN, REPO, TerminalProcess, writeSimConfig } from '../support/terminal-process.js';

/**
 * The built terminal in its own network namespace, its only way to the host a veth pair and
 * a bridge the test controls: "drop" takes the veth out of the bridge, so every packet in
 * both directions vanishes while TCP on both ends stays ESTABLISHED, as when a 4G/NAT path
 * dies. The host side is a recording relay in front of the simulated host: it keeps every
 * byte it ever receives, per connection, with the time it arrived.
 *
 * Times asserted are what the cashier lives through (how long a sale keeps them waiting),
 * with the margins the issue gives; they are behaviour, not benchmarks.
 */

interface Txn {
  id: number;
  state: string;
  stan: string | null;
  decline_code: string | null;
}

function query<T>(dataDir: string, sql: string): T[] {
  const db = new Database(join(dataDir, 'pos-companion.db'), { readonly: true, fileMustExist: true });
  try {
    return db.prepare(sql).all() as T[];
  } finally {
    db.close();
  }
}

async function until(what: string, check: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The MTIs of the whole frames a connection delivered, in order (2-byte length, then the MTI). */
function mtis(conn: RecordedConnection): string[] {
  const bytes = Buffer.concat(conn.received.map((c) => c.bytes));
  const out: string[] = [];
  for (let at = 0; at + 6 <= bytes.length; at += 2 + bytes.readUInt16BE(at)) out.push(bytes.toString('latin1', at + 2, at + 6));
  return out;
}

describe('a host link that dies silently (network namespace, bridge that drops everything)', () => {
  let net: NetnsLink;
  let sim: Simulator;
  let relay: TcpProxy;
  let terminal: TerminalProcess;
  let dataDir: string;

  /** Times the terminal logged its host link changing state (its status line's host word). */
  function linkStates(): { at: number; state: string }[] {
    return readFileSync(join(dataDir, 'pos-companion.log'), 'utf8')
      .split('\n')
      .filter((l) => l.includes('"host link state"'))
      .map((l) => JSON.parse(l) as { time: number; state: string })
      .map((l) => ({ at: l.time, state: l.state }));
  }

  async function ringSale(amount: string): Promise<{ text: string; ms: number }> {
    const from = terminal.stdout.length;
    const started = Date.now();
    terminal.type(amount);
    await terminal.waitFor(/\(transaction \d+\)/, 60_000, from);
    const ms = Date.now() - started;
    await terminal.waitFor(/\n> $/, 30_000, from);
    return { text: terminal.stdout.slice(from), ms };
  }

  beforeAll(async () => {
    net = NetnsLink.create();
    sim = await Simulator.start();
    relay = new TcpProxy({ address: '127.0.0.1', port: sim.endpoints.hostPort }, seededRandom(18));
    const port = await relay.listen(net.hostAddress);
    const cfg = writeSimConfig(sim, {
      host: { address: net.hostAddress, port, responseTimeoutMs: 30_000, reconnectMaxMs: 2_000 },
      log: { level: 'debug', target: 'file' },
    });
    dataDir = cfg.dataDir;
    const run = net.exec(process.execPath, MAIN, '--config', cfg.configPath);
    terminal = new TerminalProcess(run.args, {}, { command: run.command, cwd: REPO });
    await terminal.waitFor(/pos-companion ready \[host online/, 30_000);
  });

  afterAll(async () => {
    if (terminal && terminal.child.exitCode === null) await terminal.kill();
    await relay?.close();
    await sim?.stop();
    net?.destroy();
  });

  it('takes the status line out of "online" within 15 s of the drop while idle, and back once the link returns', async () => {
    await sleep(1_000);
    const dropped = Date.now();
    net.drop();
    await until('the link to leave online', () => linkStates().some((s) => s.at > dropped && s.state !== 'online'), 30_000);
    const left = linkStates().find((s) => s.at > dropped && s.state !== 'online')!;
    expect(left.at - dropped).toBeLessThanOrEqual(15_000);
    net.restore();
    await until('the link to be online again', () => linkStates().at(-1)?.state === 'online', 60_000);
    expect(terminal.stdout).not.toMatch(/Error:/);
  }, 90_000);

  it('a sale rung 5 s after the drop ends within 10 s, is reversed, and the next one goes offline at once; no old frame ever reaches the host', async () => {
    await until('a settled link', () => linkStates().at(-1)?.state === 'online', 30_000);
    const before = relay.connections.length;
    const dropped = Date.now();
    net.drop();
    await sleep(5_000);

    const first = await ringSale('12.34');
    expect(first.ms).toBeLessThanOrEqual(10_000);
    expect(first.text).toMatch(/DECLINED: Host did not answer - being reversed/);
    expect(first.text).toMatch(/Retry: approved offline now/);

    const second = await ringSale('23.45');
    expect(second.text).toMatch(/APPROVED OFFLINE auth Y1\d{4}/);
    // Nothing of the sale's wait is repeated: no echo, no timeout, just the offline rules.
    expect(second.ms).toBeLessThanOrEqual(3_000);

    const txns = query<Txn>(dataDir, 'SELECT id, state, stan, decline_code FROM transactions ORDER BY id');
    expect(txns.map((t) => [t.state, t.decline_code])).toEqual([
      ['reversal_pending', 'HOST_TIMEOUT'],
      ['offline_approved', null],
    ]);

    // The link comes back; give the terminal's kernel more than enough time to retransmit
    // anything it still held for the abandoned connection (a graceful close keeps doing so).
    await sleep(5_000);
    net.restore();
    await until(
      'the reversal acknowledged and the offline sale forwarded',
      () => {
        const now = query<Txn>(dataDir, 'SELECT id, state, stan, decline_code FROM transactions ORDER BY id');
        return now[0]?.state === 'reversed' && now[1]?.state === 'forwarded_approved';
      },
      60_000,
    );
    await sleep(Math.max(0, dropped + 40_000 - Date.now()));

    const abandoned = relay.connections.slice(0, before).at(-1)!;
    expect(abandoned.received.filter((c) => c.at >= dropped)).toEqual([]);
    expect(mtis(abandoned)).not.toContain('0200');
    const fresh = relay.connections.slice(before).filter((c) => c.received.length > 0);
    expect(fresh.length).toBeGreaterThanOrEqual(1);
    for (const c of fresh) expect(mtis(c)[0]).toBe('0800');
    expect(fresh.flatMap(mtis)).not.toContain('0200');

    const journal = query<JournalRecord>(dataDir, 'SELECT id, type, state, amount, currency, stan FROM transactions ORDER BY id');
    expect(reconcile(journal, sim.host.ledger.all(), 'TERM0001')).toMatchObject({ clean: true, mismatches: [] });
    const reversals = query<{ state: string }>(dataDir, 'SELECT state FROM reversals');
    expect(reversals).toEqual([{ state: 'acknowledged' }]);
  }, 120_000);
});
