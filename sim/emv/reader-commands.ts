import { isCanonicalBase64 } from '../reader/frame.js';
import type { DukptDevice } from '../crypto/dukpt.js';
import { deviceMac } from '../crypto/message-mac.js';
import type { SimChip } from './chip.js';

/**
 * The reader's chip and MAC commands (docs/protocols/card-reader.md section 10): ICC,
 * COMPLETE, MAC and MACV. Field rules are checked before a command gets here; the answer
 * is the list of fields after OK, or an ERR code.
 */
export type ChipAnswer = { ok: string[] } | { err: string };

const B64 = (f: string): boolean => f.length > 0 && isCanonicalBase64(f);

export const CHIP_FIELD_RULES: Readonly<Record<string, (f: string[]) => boolean>> = {
  ICC: (f) => f.length === 2 && /^\d{6}$/.test(f[0]!) && /^\d{2}$/.test(f[1]!),
  COMPLETE: (f) => f.length === 2 && /^[0-9A-Z]{2}$/.test(f[0]!) && (f[1] === '' || B64(f[1]!)),
  MAC: (f) => f.length === 1 && B64(f[0]!),
  MACV: (f) => f.length === 3 && /^[0-9A-F]{24}$/.test(f[0]!) && B64(f[1]!) && /^[0-9A-F]{16}$/.test(f[2]!),
};

export function isChipCommand(command: string): boolean {
  return Object.hasOwn(CHIP_FIELD_RULES, command);
}

export function chipCommand(command: string, fields: readonly string[], chip: SimChip, device: DukptDevice): ChipAnswer {
  switch (command) {
    case 'ICC': {
      const tlv = chip.firstCryptogram(fields[0]!, fields[1]!);
      return tlv ? { ok: [tlv.toString('base64')] } : { err: 'NO_CHIP' };
    }
    case 'COMPLETE': {
      const done = chip.complete(fields[0]!, Buffer.from(fields[1]!, 'base64'));
      return done ? { ok: [done.kind, done.tlv.toString('base64')] } : { err: 'NO_CHIP' };
    }
    case 'MAC': {
      const ksn = device.nextKsn();
      const mac = deviceMac(device, ksn, 'request', Buffer.from(fields[0]!, 'base64'));
      return { ok: [ksn.toString('hex').toUpperCase(), mac.toString('hex').toUpperCase()] };
    }
    default: {
      const ksn = Buffer.from(fields[0]!, 'hex');
      const valid =
        device.issued(ksn) && deviceMac(device, ksn, 'answer', Buffer.from(fields[1]!, 'base64')).equals(Buffer.from(fields[2]!, 'hex'));
      return { ok: [valid ? 'VALID' : 'INVALID'] };
    }
  }
}
