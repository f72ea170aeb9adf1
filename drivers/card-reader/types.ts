export type EntryMode = 'CHIP' | 'CTLS' | 'SWIPE' | 'MANUAL';

export const ENTRY_MODES: readonly EntryMode[] = ['CHIP', 'CTLS', 'SWIPE', 'MANUAL'];

/**
 * What the card asks for PIN verification (docs/protocols/card-reader.md, READ): a PIN above
 * the terminal's CVM limit (`LIMIT`), the same with bypass allowed (`LIMIT_BYPASS`), or a PIN
 * at every amount (`ALWAYS`).
 */
export type PinPolicy = 'LIMIT' | 'LIMIT_BYPASS' | 'ALWAYS';

export const PIN_POLICIES: readonly PinPolicy[] = ['LIMIT', 'LIMIT_BYPASS', 'ALWAYS'];

/**
 * What a card read hands to the product. Deliberately holds no field that could carry a
 * clear PAN: the masked PAN is validated to BIN6 + fill + last four, the card data itself
 * travels only inside the encrypted blob that the host alone can open.
 */
export interface CardReadResult {
  maskedPan: string;
  last4: string;
  expiry: string;
  entryMode: EntryMode;
  panToken: string;
  encryptedBlob: Buffer;
  pinPolicy: PinPolicy;
}

export interface ReaderInfo {
  vendor: string;
  model: string;
  serial: string;
  firmware: string;
}

export interface ReaderStatus {
  state: string;
  cardPresent: boolean;
}

/** Keys the reader reports in KEY events, which it sends only while no READ or PIN runs. */
export const READER_KEYS = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9', 'ENTER', 'CLEAR', 'CANCEL'] as const;
export type ReaderKey = (typeof READER_KEYS)[number];

export type ReaderEvent = { type: 'CARD_INSERTED' } | { type: 'CARD_REMOVED' } | { type: 'CARD_TAPPED' } | { type: 'KEY'; key: ReaderKey };

/** An entered PIN reaches the product only as the reader's enciphered format 4 block and the KSN of its key. */
export type PinResult = { bypassed: true } | { bypassed: false; pinBlock: Buffer; ksn: Buffer };
