import { SimError } from '../errors.js';
import type { ReaderFrame } from './frame.js';
import type { ReaderSim } from './reader-sim.js';

/** `npm run sim` flags that script the card reader (parseArgs option table). */
export const READER_FAULT_OPTIONS = {
  'reader-corrupt': { type: 'string' },
  'reader-split': { type: 'string' },
  'reader-garbage-every': { type: 'string' },
  'reader-overlong': { type: 'boolean' },
  'reader-hang': { type: 'boolean' },
  'reader-delay': { type: 'string' },
  'reader-no-card': { type: 'boolean' },
  'reader-cancel': { type: 'boolean' },
  pin: { type: 'string' },
  'unplug-after': { type: 'string' },
  'replug-after': { type: 'string' },
} as const;

export const READER_FAULT_USAGE = `Card reader behaviour and faults:
  --reader-corrupt N        the next N reader answers leave with a wrong checksum
  --reader-split N          the next N answers are written in small pieces
  --reader-garbage-every MS noise bytes on the line every MS milliseconds
  --reader-overlong         an overlong line (over 1024 bytes) at every READ
  --reader-hang             the reader reads commands but never answers
  --reader-delay MS         every answer waits MS milliseconds
  --reader-no-card          no card is ever presented (READ answers ERR,TIMEOUT)
  --reader-cancel           the cardholder presses cancel at every READ
  --pin PIN|bypass          what the cardholder does at every PIN (default: the card's own PIN, 1234)
  --unplug-after MS         the reader's pty vanishes MS after start
  --replug-after MS         and comes back (same path) MS after the unplug`;

export type ReaderFaultValues = {
  [K in keyof typeof READER_FAULT_OPTIONS]?: (typeof READER_FAULT_OPTIONS)[K]['type'] extends 'boolean' ? boolean : string;
};

export class ReaderFlagError extends SimError {
  constructor(problem: string) {
    super('SIM_BAD_FLAG', problem);
  }
}

function ms(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value)) throw new ReaderFlagError(`--${name} needs a whole number, got ${value}`);
  return Number(value);
}

/**
 * Applies the reader flags to a running simulator. `unplug`/`replug` are the simulator's
 * own (they stop and restart the pty too); returns a function that cancels the timers.
 */
export function applyReaderFaults(
  reader: ReaderSim,
  values: ReaderFaultValues,
  plug: { unplug: () => Promise<void>; replug: () => Promise<void> },
): () => void {
  const timers: NodeJS.Timeout[] = [];
  const corrupt = ms('reader-corrupt', values['reader-corrupt']);
  if (corrupt) reader.corruptAnswers(corrupt);
  const split = ms('reader-split', values['reader-split']);
  if (split) reader.splitAnswers(split);
  const delay = ms('reader-delay', values['reader-delay']);
  if (delay) reader.answerDelayMs = delay;
  if (values['reader-hang']) reader.hang();
  const pin = values.pin;
  if (pin !== undefined && pin !== 'bypass' && !/^\d{4,12}$/.test(pin)) throw new ReaderFlagError('--pin needs 4-12 digits or "bypass"');
  reader.on('command', (frame: ReaderFrame) => {
    if (frame.command === 'READ') {
      if (values['reader-overlong']) reader.sendOverlong();
      if (values['reader-no-card']) reader.presentNothing();
      else if (values['reader-cancel']) reader.cancelByCardholder();
    }
    if (frame.command === 'PIN' && pin !== undefined) {
      if (pin === 'bypass') reader.bypassPin();
      else reader.enterPin(pin);
    }
  });
  const garbage = ms('reader-garbage-every', values['reader-garbage-every']);
  if (garbage) timers.push(setInterval(() => reader.sendGarbage(), garbage));
  const unplugAfter = ms('unplug-after', values['unplug-after']);
  const replugAfter = ms('replug-after', values['replug-after']);
  if (unplugAfter !== undefined) {
    timers.push(
      setTimeout(() => {
        void plug.unplug().then(() => {
          if (replugAfter !== undefined) timers.push(setTimeout(() => void plug.replug(), replugAfter));
        });
      }, unplugAfter),
    );
  }
  return () => timers.forEach((t) => clearTimeout(t));
}
