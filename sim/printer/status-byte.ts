/** What the simulated printer's sensors report, flag by flag as docs/protocols/printer.md names them. */
export interface PrinterState {
  online: boolean;
  coverOpen: boolean;
  paperNearEnd: boolean;
  paperEnd: boolean;
  cutterError: boolean;
  unrecoverableError: boolean;
  autoRecoverableError: boolean;
  recoverableError: boolean;
  drawerOpen: boolean;
}

export type StatusRequest = 1 | 2 | 3 | 4;

/** Bits 1 and 4 set, bits 0 and 7 clear: the fixed part of every DLE EOT answer. */
const FIXED = 0b0001_0010;

function hasErrorCause(s: PrinterState): boolean {
  return s.recoverableError || s.cutterError || s.unrecoverableError || s.autoRecoverableError;
}

/**
 * The one byte answering `DLE EOT n`, from the tables of the document's "Real-time
 * status" section. Paired sensor bits (n = 4) are both set, and n = 2 bit 6 whenever n = 3
 * has a cause, as the document says this printer does.
 */
export function statusByte(n: StatusRequest, s: PrinterState): number {
  const bit = (on: boolean, mask: number): number => (on ? mask : 0);
  switch (n) {
    case 1:
      return FIXED | bit(s.drawerOpen, 0x04) | bit(!s.online, 0x08);
    case 2:
      return FIXED | bit(s.coverOpen, 0x04) | bit(s.paperEnd, 0x20) | bit(hasErrorCause(s), 0x40);
    case 3:
      return (
        FIXED |
        bit(s.recoverableError, 0x04) |
        bit(s.cutterError, 0x08) |
        bit(s.unrecoverableError, 0x20) |
        bit(s.autoRecoverableError, 0x40)
      );
    case 4:
      return FIXED | bit(s.paperNearEnd, 0x0c) | bit(s.paperEnd, 0x60);
  }
}
