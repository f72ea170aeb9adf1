import { SimError } from '../errors.js';
import type { TmsSim } from '../tms/tms-sim.js';
import { encode, isWireField, SimCodecError, type WireValue } from './codec.js';
import type { HostAction, HostMtiClass, HostSim } from './host-sim.js';

export class HostCommandError extends SimError {
  constructor(problem: string) {
    super('SIM_HOST_COMMAND', `${problem}; ${HOST_COMMAND_USAGE}`, { problem });
  }
}

/** The host and TMS commands `npm run sim` takes on its standard input while it runs. */
export const HOST_COMMAND_USAGE = `host commands: "host stop" (connections refused), "host start", "approve",
"decline CODE" (every sale from now on), "tamper [CLASS] N=VALUE... -N..." (the next answer of
CLASS, default 0200, with field N set to VALUE (hex:... for binary fields) or removed),
"tms down", "tms up"`;

const CLASSES: readonly HostMtiClass[] = ['0200', '0220', '0400', '0500', '0800'];

/** "tamper 0400 4=000000000001 -39" -> the class and the tamper action for its next answer. */
export function parseTamper(words: readonly string[]): { mtiClass: HostMtiClass; action: HostAction } {
  let rest = [...words];
  let mtiClass: HostMtiClass = '0200';
  if (rest[0] !== undefined && (CLASSES as readonly string[]).includes(rest[0])) {
    mtiClass = rest[0] as HostMtiClass;
    rest = rest.slice(1);
  }
  const set: Record<number, WireValue> = {};
  const remove: number[] = [];
  for (const word of rest) {
    const m = /^(?:-(\d{1,3})|(\d{1,3})=(.*))$/.exec(word);
    const field = Number(m?.[1] ?? m?.[2]);
    if (!m || !isWireField(field)) throw new HostCommandError(`"${word}" is not -N or N=VALUE for a field of the table`);
    if (m[1] !== undefined) {
      remove.push(field);
      continue;
    }
    const value = m[3]!.startsWith('hex:') ? Buffer.from(m[3]!.slice(4), 'hex') : m[3]!;
    try {
      // A value the wire cannot carry would fail only when the answer is encoded: refuse it now.
      encode({ mti: '0210', fields: new Map([[field, value]]) });
    } catch (err) {
      if (err instanceof SimCodecError) throw new HostCommandError(`"${word}": ${err.message}`);
      throw err;
    }
    set[field] = value;
  }
  if (remove.length === 0 && Object.keys(set).length === 0) throw new HostCommandError('tamper needs at least one field');
  return { mtiClass, action: { type: 'tamper', set, remove } };
}

/**
 * Runs one host or TMS command and says what changed; undefined when the line is not one
 * (the caller tries its other commands). Real outages: stopping the host refuses
 * connections until it starts again, on the same port.
 */
export async function runHostCommand(host: HostSim, tms: TmsSim, line: string): Promise<string | undefined> {
  const words = line.trim().split(/\s+/);
  const [verb, arg] = words;
  switch (`${verb} ${arg ?? ''}`.trim()) {
    case 'host stop':
      await host.stop();
      return 'host: stopped, connections refused';
    case 'host start':
      return `host: listening on port ${await host.start()}`;
    case 'tms down':
      await tms.stop();
      return 'tms: down, connections refused';
    case 'tms up':
      await tms.start();
      return `tms: up at ${tms.url}`;
    case 'approve':
      host.defaultAction = { type: 'approve' };
      return 'host: sales decided by the rules';
  }
  if (verb === 'decline') {
    if (arg === undefined || !/^[0-9A-Z]{2}$/.test(arg)) throw new HostCommandError('decline needs a two-character field-39 code');
    host.defaultAction = { type: 'decline', code: arg };
    return `host: every sale declined ${arg}`;
  }
  if (verb === 'tamper') {
    const { mtiClass, action } = parseTamper(words.slice(1));
    host.queueFor(mtiClass, action);
    return `host: the next ${mtiClass} answer is tampered with (${words.slice(1).join(' ')})`;
  }
  return undefined;
}
