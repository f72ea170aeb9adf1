import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { PosError } from '../../drivers/base/errors.js';

/** The machine cannot build a network namespace link: not root, or no `ip` (iproute2). */
export class NetnsUnavailableError extends PosError {
  constructor(reason: string) {
    super('TEST_NETNS_UNAVAILABLE', `cannot build a network namespace link: ${reason}`, { reason });
  }
}

function ip(...args: string[]): void {
  execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

/**
 * A real network link that can drop every packet while TCP on both ends stays ESTABLISHED,
 * as a 4G or NAT path does when it dies: a network namespace for the terminal, joined to the
 * root namespace by a veth pair whose root end is a port of a bridge that carries the host's
 * address. `drop()` takes the veth out of the bridge (frames arrive and go nowhere, no RST or
 * ICMP), `restore()` puts it back. The kernel offers no packet loss or delay here (no netem),
 * so this is an on/off link; shaped links use the in-process TcpProxy.
 *
 * Names are unique per instance; `destroy()` removes everything `create()` made, even half-made.
 */
export class NetnsLink {
  readonly namespace: string;
  readonly bridge: string;
  private readonly vethRoot: string;
  private readonly vethTerminal: string;
  /** The host side (root namespace, on the bridge). */
  readonly hostAddress: string;
  readonly terminalAddress: string;

  private constructor(id: string, subnet: number) {
    this.namespace = `pos-${id}`;
    this.bridge = `pb${id}`;
    this.vethRoot = `pr${id}`;
    this.vethTerminal = `pt${id}`;
    this.hostAddress = `10.218.${subnet}.1`;
    this.terminalAddress = `10.218.${subnet}.2`;
  }

  static create(): NetnsLink {
    if (process.getuid?.() !== 0) throw new NetnsUnavailableError('needs root');
    try {
      execFileSync('ip', ['-V'], { stdio: 'ignore' });
    } catch {
      throw new NetnsUnavailableError('the ip command (iproute2) is missing');
    }
    const random = randomBytes(4);
    const link = new NetnsLink(random.toString('hex').slice(0, 6), 1 + (random[3]! % 250));
    try {
      link.build();
    } catch (err) {
      link.destroy();
      throw new NetnsUnavailableError(err instanceof Error ? err.message : String(err));
    }
    return link;
  }

  /** argv prefix that runs a command inside the terminal's namespace. */
  exec(command: string, ...args: string[]): { command: string; args: string[] } {
    return { command: 'ip', args: ['netns', 'exec', this.namespace, command, ...args] };
  }

  drop(): void {
    ip('link', 'set', this.vethRoot, 'nomaster');
  }

  restore(): void {
    ip('link', 'set', this.vethRoot, 'master', this.bridge);
  }

  destroy(): void {
    for (const args of [
      ['netns', 'del', this.namespace],
      ['link', 'del', this.vethRoot],
      ['link', 'del', this.bridge],
    ]) {
      try {
        ip(...args);
      } catch {
        // Already gone (or never made): nothing left to remove.
      }
    }
  }

  private build(): void {
    const ns = ['netns', 'exec', this.namespace, 'ip'];
    ip('netns', 'add', this.namespace);
    ip('link', 'add', this.vethRoot, 'type', 'veth', 'peer', 'name', this.vethTerminal);
    ip('link', 'set', this.vethTerminal, 'netns', this.namespace);
    ip('link', 'add', this.bridge, 'type', 'bridge');
    ip('addr', 'add', `${this.hostAddress}/24`, 'dev', this.bridge);
    ip('link', 'set', this.bridge, 'up');
    // Out of the bridge the veth must not take the host's traffic itself: no ARP answers for the
    // bridge's address, and strict reverse-path filtering, so dropped really means dropped.
    writeFileSync(`/proc/sys/net/ipv4/conf/${this.vethRoot}/arp_ignore`, '8');
    writeFileSync(`/proc/sys/net/ipv4/conf/${this.vethRoot}/rp_filter`, '1');
    ip('link', 'set', this.vethRoot, 'master', this.bridge);
    ip('link', 'set', this.vethRoot, 'up');
    ip(...ns, 'addr', 'add', `${this.terminalAddress}/24`, 'dev', this.vethTerminal);
    ip(...ns, 'link', 'set', this.vethTerminal, 'up');
    ip(...ns, 'link', 'set', 'lo', 'up');
  }
}
