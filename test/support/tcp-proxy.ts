import { createServer, Socket, type Server } from 'node:net';

/** One connection as the host end saw it: every byte that reached the host, with the time it arrived. */
export interface RecordedConnection {
  id: number;
  openedAt: number;
  /** Terminal -> host bytes in arrival order; a chunk is not a frame. */
  received: { at: number; bytes: Buffer }[];
}

export interface LinkShape {
  /** One-way delay added to every chunk, each direction. */
  delayMs: number;
  /**
   * Chance that a chunk is "lost". TCP turns a lost segment into a retransmission, so loss is
   * modelled as the delay it costs: each loss adds `rtoMs` (doubling per repeated loss) and,
   * as with TCP, holds back everything behind it. No byte is ever actually dropped.
   */
  loss: number;
  rtoMs: number;
}

const CLEAN: LinkShape = { delayMs: 0, loss: 0, rtoMs: 0 };

/**
 * An in-process TCP relay between the terminal and the host, for tests: it can shape the
 * link (delay, loss as retransmission delay), go silent without closing either side (every
 * byte in both directions vanishes, as on a dead 4G link, while both sockets stay open), and
 * come back. It records what reaches the host, per connection.
 */
export class TcpProxy {
  readonly connections: RecordedConnection[] = [];
  private server: Server | undefined;
  private silent = false;
  private shape: LinkShape = CLEAN;
  private readonly sockets = new Set<Socket>();

  constructor(
    private readonly target: { address: string; port: number },
    private readonly random: () => number,
  ) {}

  async listen(address = '127.0.0.1'): Promise<number> {
    const server = createServer((client) => this.relay(client));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, address, () => resolve());
    });
    this.server = server;
    const addr = server.address();
    if (addr === null || typeof addr === 'string') throw new Error('proxy has no TCP address');
    return addr.port;
  }

  setShape(shape: Partial<LinkShape>): void {
    this.shape = { ...CLEAN, ...shape };
  }

  /** From now on nothing passes in either direction, and nobody is told. */
  drop(): void {
    this.silent = true;
  }

  restore(): void {
    this.silent = false;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    const server = this.server;
    this.server = undefined;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private relay(client: Socket): void {
    const record: RecordedConnection = { id: this.connections.length + 1, openedAt: Date.now(), received: [] };
    this.connections.push(record);
    const upstream = new Socket();
    for (const s of [client, upstream]) {
      this.sockets.add(s);
      s.setNoDelay(true);
      s.on('error', () => undefined);
      s.once('close', () => this.sockets.delete(s));
    }
    const toHost = this.direction((bytes) => {
      record.received.push({ at: Date.now(), bytes });
      upstream.write(bytes);
    });
    const toTerminal = this.direction((bytes) => client.write(bytes));
    client.on('data', toHost);
    upstream.on('data', toTerminal);
    // A close passes like any packet: not while the link is silent (the other side never learns).
    client.once('close', () => {
      if (!this.silent) upstream.destroy();
    });
    upstream.once('close', () => {
      if (!this.silent) client.destroy();
    });
    upstream.connect(this.target.port, this.target.address);
  }

  /** In-order delivery with the current shape; a chunk due while the link is silent is gone. */
  private direction(deliver: (bytes: Buffer) => void): (chunk: Buffer) => void {
    let lastDue = 0;
    return (chunk) => {
      if (this.silent) return;
      let extra = 0;
      for (let rto = this.shape.rtoMs; this.shape.loss > 0 && this.random() < this.shape.loss; rto *= 2) extra += rto;
      const due = Math.max(lastDue, Date.now() + this.shape.delayMs + extra);
      lastDue = due;
      const send = () => {
        if (!this.silent) deliver(chunk);
      };
      if (due <= Date.now()) send();
      else setTimeout(send, due - Date.now());
    };
  }
}

/** A small seeded generator (mulberry32), so a shaped run can be repeated. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
