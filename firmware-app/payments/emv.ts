import type { ChipCompletion, IccData } from '../../drivers/card-reader/chip.js';
import { isPosError } from '../../drivers/base/errors.js';
import { encodeTlv } from '../../drivers/card-reader/tlv.js';
import type { CardReadResult } from '../../drivers/card-reader/types.js';
import type { TxnType } from './lifecycle.js';

/**
 * The chip steps of a sale (docs/protocols/card-reader.md section 10, host-iso8583.md
 * section 4.9): the card's first cryptogram before the 0200 (field 55), its second one
 * with the host's answer (or the offline decision), and what of it the journal keeps.
 */
export interface ChipCard {
  icc(date: string, type: string): Promise<IccData>;
  complete(arc: string, issuerData: Buffer | undefined): Promise<ChipCompletion>;
}

/** A card read with, for a chip or contactless sale, the card's ICC data. */
export type ChipCardRead = CardReadResult & { icc?: IccData };

/** The card declined (AAC) a sale the host had approved: reversed. */
export const CHIP_DECLINED_AFTER_APPROVAL = 'CHIP_DECLINED_AFTER_APPROVAL';
/** The card declined (AAC) a sale the terminal would have approved offline: nothing charged. */
export const CHIP_DECLINED_OFFLINE = 'CHIP_DECLINED_OFFLINE';
/** The ARC that tells the card the terminal approved offline (the host could not be reached). */
const OFFLINE_APPROVED_ARC = 'Y3';
/** Transaction type of tag 9C: the terminal asks the card only for sales. */
const SALE_TYPE = '00';

/** What the journal keeps of chip data: the application, the cryptogram and its counter, the TVR. */
const JOURNAL_TAGS: readonly string[] = ['84', '95', '9F26', '9F27', '9F36'];

const pad2 = (n: number) => String(n).padStart(2, '0');

/** Tag 9A, YYMMDD in terminal local time. */
function iccDate(at: Date): string {
  return `${pad2(at.getFullYear() % 100)}${pad2(at.getMonth() + 1)}${pad2(at.getDate())}`;
}

export function journalIcc(data: IccData): Record<string, string> {
  return Object.fromEntries(
    data.objects.filter((o) => JOURNAL_TAGS.includes(o.tag)).map((o) => [o.tag, o.value.toString('hex').toUpperCase()]),
  );
}

/** First GENERATE AC for a sale read by chip or contactless; other reads pass through unchanged. */
export async function readChip(chip: ChipCard | undefined, type: TxnType, card: CardReadResult, at: Date): Promise<ChipCardRead> {
  if (!chip || type !== 'sale' || (card.entryMode !== 'CHIP' && card.entryMode !== 'CTLS')) return card;
  return { ...card, icc: await chip.icc(iccDate(at), SALE_TYPE) };
}

export interface ChipOutcome {
  decision: 'TC' | 'AAC';
  journal: Record<string, string>;
  /** Why the card's decision is AAC without the card saying so: the reader failed (its error code). */
  fault?: string;
}

/**
 * Second GENERATE AC with the host's response code and field 55. A reader that cannot
 * complete leaves the card's decision unknown, which is no approval: it counts as AAC.
 */
export async function completeOnline(
  chip: ChipCard | undefined,
  card: ChipCardRead,
  code: string,
  issuerData: unknown,
): Promise<ChipOutcome | undefined> {
  if (!chip || !card.icc) return undefined;
  try {
    const done = await chip.complete(code, Buffer.isBuffer(issuerData) ? issuerData : undefined);
    return { decision: done.decision, journal: journalIcc(done.data) };
  } catch (err) {
    return { decision: 'AAC', journal: {}, fault: isPosError(err) ? err.code : 'READER_ERROR' };
  }
}

/**
 * The offline approval told to the card (ARC `Y3`). On TC, field 55 of the advice: the TC
 * with its counter and TVR, then the rest of the ICC data it was computed over.
 */
export async function completeOffline(
  chip: ChipCard | undefined,
  card: ChipCardRead,
): Promise<(ChipOutcome & { advice?: Buffer }) | undefined> {
  if (!chip || !card.icc) return undefined;
  const first = card.icc;
  try {
    const done = await chip.complete(OFFLINE_APPROVED_ARC, undefined);
    if (done.decision === 'AAC') return { decision: 'AAC', journal: journalIcc(done.data) };
    const tc = done.data.objects;
    const advice = encodeTlv([...tc, ...first.objects.filter((o) => !tc.some((t) => t.tag === o.tag))]);
    return { decision: 'TC', journal: journalIcc(done.data), advice };
  } catch (err) {
    return { decision: 'AAC', journal: {}, fault: isPosError(err) ? err.code : 'READER_ERROR' };
  }
}
