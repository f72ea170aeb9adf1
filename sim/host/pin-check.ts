import { TEST_CARDS } from '../cards.js';
import { workingKeyFromBdk } from '../crypto/dukpt.js';
import { decipherPinBlock4 } from '../crypto/pin-block-4.js';
import { TEST_BDK } from '../crypto/test-keys.js';
import type { WireValue } from './codec.js';

/** Wrong PINs in a row a card may have; the one that reaches it is answered 75. */
export const PIN_TRY_LIMIT = 3;

/**
 * The issuer's PIN check of docs/protocols/host-iso8583.md section 4.7: the PIN key of the
 * KSN in field 53 from the test BDK, the format 4 block of field 52 deciphered with the PAN
 * from field 48, compared with the PIN the issuer holds. Counts wrong tries per card; keeps
 * no PIN, block or key.
 */
export class IssuerPins {
  private readonly wrongInARow = new Map<string, number>();

  /**
   * The field-39 code the PIN decides, or undefined when it decides nothing (no PIN sent
   * and the card does not ask for one): `00` verified, `55` wrong, `75` tries exceeded,
   * `30` a block without its KSN or a KSN without its block.
   */
  verify(pan: string, block: WireValue | undefined, ksn: WireValue | undefined): string | undefined {
    const card = TEST_CARDS.find((c) => c.pan === pan);
    if (block === undefined && ksn === undefined) return card?.pinPolicy === 'ALWAYS' ? '55' : undefined;
    if (!Buffer.isBuffer(block) || !Buffer.isBuffer(ksn)) return '30';
    const wrong = this.wrongInARow.get(pan) ?? 0;
    if (wrong >= PIN_TRY_LIMIT) return '75';
    if (card !== undefined && this.decipher(block, ksn, pan) === card.pin) {
      this.wrongInARow.delete(pan);
      return '00';
    }
    this.wrongInARow.set(pan, wrong + 1);
    return wrong + 1 >= PIN_TRY_LIMIT ? '75' : '55';
  }

  /** A block that does not decipher to a format 4 PIN field counts as a wrong PIN. */
  private decipher(block: Buffer, ksn: Buffer, pan: string): string | undefined {
    try {
      return decipherPinBlock4(workingKeyFromBdk(TEST_BDK, ksn, 'pinEncryption'), block, pan);
    } catch {
      return undefined;
    }
  }
}
