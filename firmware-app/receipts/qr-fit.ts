import type { PaperWidth } from './layout.js';

/** Printable dots across the roll at 203 dpi (8 dots/mm): 48 mm of 58 mm paper, 72 mm of 80 mm. */
export const PRINT_AREA_DOTS: Record<PaperWidth, number> = { 58: 384, 80: 576 };

/** Largest module printed: a short link stays a comfortable size instead of filling the slip. */
const MAX_MODULE_DOTS = 6;
/** Below 3 dots (0.375 mm) a module is smaller than phone cameras read reliably off thermal paper. */
const MIN_MODULE_DOTS = 3;

/** Byte-mode capacity of QR versions 1..40 at level M, the level slips use (ISO/IEC 18004 table 7). */
const CAPACITY_M = [
  14, 26, 42, 62, 84, 106, 122, 152, 180, 213, 251, 287, 331, 362, 412, 450, 504, 560, 624, 666, 711, 779, 857, 911, 997, 1059, 1125, 1190,
  1264, 1370, 1452, 1538, 1628, 1722, 1809, 1911, 1989, 2099, 2213, 2331,
];

/**
 * The module size that makes the e-receipt QR code fit the print area, largest first; undefined
 * when even the smallest readable module would draw it wider than the paper, and then the slip
 * goes without it. Sized for byte mode, which a URL needs.
 */
export function qrModuleSize(data: string, widthMm: PaperWidth): number | undefined {
  const version = CAPACITY_M.findIndex((capacity) => capacity >= Buffer.byteLength(data, 'utf8')) + 1;
  if (version === 0) return undefined;
  const modules = 17 + 4 * version;
  const size = Math.min(MAX_MODULE_DOTS, Math.floor(PRINT_AREA_DOTS[widthMm] / modules));
  return size >= MIN_MODULE_DOTS ? size : undefined;
}
