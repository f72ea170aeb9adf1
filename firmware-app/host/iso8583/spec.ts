/**
 * ISO 8583 (1987) field definitions, kept as data so the acquirer's table can be read,
 * reviewed and diffed like a jPOS packager XML. The full wire format is documented in
 * docs/protocols/host-iso8583.md; in short ("ISO87APackager with binary bitmap" style):
 *
 * - MTI: 4 ASCII digits.
 * - Bitmap: binary, 8 bytes; bit 1 (most significant bit of the first byte) set and a
 *   second 8-byte bitmap follows when any field 65-128 is present. Bits 1 and 65 are
 *   bitmap flags, never data fields.
 * - Fields follow in ascending order. Types n, an and ans are ASCII bytes; type b is raw
 *   bytes. LL / LLL fields carry a 2 / 3 ASCII-digit length prefix counting characters
 *   (bytes for type b). For fixed fields `max` is the exact length (bytes for type b).
 */

/**
 * n: digits 0-9; an: letters, digits and space (space so fixed an fields can be
 * right-padded as ISO 8583 prescribes); ans: printable ASCII 0x20-0x7E; b: raw bytes.
 */
export type FieldType = 'n' | 'an' | 'ans' | 'b';
export type LengthKind = 'fixed' | 'LL' | 'LLL';

export interface FieldSpec {
  readonly name: string;
  readonly type: FieldType;
  readonly length: LengthKind;
  /** For fixed: the exact length. For LL / LLL: the maximum length. */
  readonly max: number;
}

export type IsoSpec = Readonly<Record<number, FieldSpec>>;

/**
 * The acquirer's table. Fields 2 (PAN) and 35 (track 2) are deliberately absent: card
 * data travels only inside the reader's encrypted blob in field 48, and leaving the
 * fields out of the table means the packager refuses to put a clear PAN or track on
 * the wire (and refuses to accept one from the host).
 */
export const HOST_SPEC: IsoSpec = Object.freeze({
  3: { name: 'processing code', type: 'n', length: 'fixed', max: 6 },
  4: { name: 'amount, transaction', type: 'n', length: 'fixed', max: 12 },
  7: { name: 'transmission date and time (MMDDhhmmss, UTC)', type: 'n', length: 'fixed', max: 10 },
  11: { name: 'system trace audit number (STAN)', type: 'n', length: 'fixed', max: 6 },
  12: { name: 'time, local transaction (hhmmss)', type: 'n', length: 'fixed', max: 6 },
  13: { name: 'date, local transaction (MMDD)', type: 'n', length: 'fixed', max: 4 },
  14: { name: 'date, expiration (YYMM)', type: 'n', length: 'fixed', max: 4 },
  22: { name: 'POS entry mode', type: 'n', length: 'fixed', max: 3 },
  24: { name: 'network international identifier (NII)', type: 'n', length: 'fixed', max: 3 },
  25: { name: 'POS condition code', type: 'n', length: 'fixed', max: 2 },
  32: { name: 'acquiring institution identification code', type: 'n', length: 'LL', max: 11 },
  37: { name: 'retrieval reference number (RRN)', type: 'an', length: 'fixed', max: 12 },
  38: { name: 'authorization identification response', type: 'an', length: 'fixed', max: 6 },
  39: { name: 'response code', type: 'an', length: 'fixed', max: 2 },
  41: { name: 'card acceptor terminal identification', type: 'ans', length: 'fixed', max: 8 },
  42: { name: 'card acceptor identification code (merchant id)', type: 'ans', length: 'fixed', max: 15 },
  44: { name: 'additional response data', type: 'ans', length: 'LL', max: 25 },
  48: { name: 'P2PE encrypted card data', type: 'b', length: 'LLL', max: 999 },
  49: { name: 'currency code, transaction', type: 'n', length: 'fixed', max: 3 },
  52: { name: 'PIN block (ISO 9564 format 4)', type: 'b', length: 'fixed', max: 16 },
  53: { name: 'security related control information (KSN of the PIN block)', type: 'b', length: 'fixed', max: 12 },
  54: { name: 'additional amounts', type: 'an', length: 'LLL', max: 120 },
  55: { name: 'ICC data', type: 'b', length: 'LLL', max: 255 },
  60: { name: 'batch number (private)', type: 'ans', length: 'LLL', max: 999 },
  62: { name: 'MAC key serial number (private use)', type: 'b', length: 'LLL', max: 999 },
  63: { name: 'settlement totals (private)', type: 'ans', length: 'LLL', max: 999 },
  64: { name: 'message authentication code (MAC)', type: 'b', length: 'fixed', max: 8 },
  70: { name: 'network management information code', type: 'n', length: 'fixed', max: 3 },
  90: { name: 'original data elements', type: 'n', length: 'fixed', max: 42 },
  95: { name: 'replacement amounts', type: 'an', length: 'fixed', max: 42 },
  128: { name: 'message authentication code (MAC)', type: 'b', length: 'fixed', max: 8 },
});
