import { randomBytes } from 'node:crypto';
import type { TestCard } from '../cards.js';
import { applicationCryptogram, cardMasterKey, CID, issuerAuthenticationData, sessionKey, TEST_ISSUER_MASTER_KEY } from './cryptogram.js';
import { decodeTlv, encodeTlv, type SimTlv } from './tlv.js';

/**
 * The chip side of the simulated reader (docs/protocols/card-reader.md section 10): the
 * ICC data of the card of the last READ, its first cryptogram (ARQC), and the second one
 * (TC or AAC) when the terminal completes the transaction with the host's answer.
 */
const CURRENCY_NUMERIC: Readonly<Record<string, string>> = { CNY: '0156', USD: '0840', EUR: '0978', HKD: '0344', GBP: '0826', JPY: '0392' };
/** The reader's own EMV configuration: terminal country code (China) and terminal capabilities. */
const TERMINAL_COUNTRY = '0156';
const TERMINAL_CAPABILITIES = 'E0F8C8';
const AIP = '1980';
const ISSUER_APPLICATION_DATA = '06011203A00000';

function aidOf(pan: string): string {
  if (pan.startsWith('4')) return 'A0000000031010';
  if (pan.startsWith('5')) return 'A0000000041010';
  return 'A000000333010101';
}

export interface ChipRead {
  card: TestCard;
  amountMinor: number;
  currencyAlpha: string;
}

interface Session extends ChipRead {
  values: Record<string, Buffer>;
  sk: Buffer;
  arqc: Buffer;
}

export interface Completion {
  kind: 'TC' | 'AAC';
  tlv: Buffer;
}

export class SimChip {
  private readonly atcs = new Map<string, number>();
  private read: ChipRead | undefined;
  private session: Session | undefined;
  /** Every issuer script template (71, 72) a COMPLETE brought to the card, as hex of the whole TLV. */
  readonly scriptsDelivered: string[] = [];

  constructor(
    private readonly unpredictable: () => Buffer = () => randomBytes(4),
    private readonly issuerKey: Buffer = TEST_ISSUER_MASTER_KEY,
  ) {}

  /** A READ succeeded: only a chip or contactless card has ICC data. */
  cardRead(read: ChipRead | undefined): void {
    this.read = read && (read.card.entryMode === 'CHIP' || read.card.entryMode === 'CTLS') ? read : undefined;
    this.session = undefined;
  }

  /** First GENERATE AC: the ICC data with an ARQC, or undefined when the last READ gave no chip. */
  firstCryptogram(date: string, type: string): Buffer | undefined {
    const read = this.read;
    if (!read) return undefined;
    const atc = ((this.atcs.get(read.card.pan) ?? 0) + 1) & 0xffff;
    this.atcs.set(read.card.pan, atc);
    const atcBytes = Buffer.alloc(2);
    atcBytes.writeUInt16BE(atc);
    const values: Record<string, Buffer> = {
      '9F02': Buffer.from(String(read.amountMinor).padStart(12, '0'), 'hex'),
      '5F2A': Buffer.from(CURRENCY_NUMERIC[read.currencyAlpha] ?? '0000', 'hex'),
      '9A': Buffer.from(date, 'hex'),
      '9C': Buffer.from(type, 'hex'),
      '9F37': this.unpredictable(),
      '82': Buffer.from(AIP, 'hex'),
      '9F36': atcBytes,
      '95': Buffer.alloc(5),
      '9F1A': Buffer.from(TERMINAL_COUNTRY, 'hex'),
      '9F33': Buffer.from(TERMINAL_CAPABILITIES, 'hex'),
    };
    // A card with a forged key stands for a counterfeit: its ARQC cannot verify at the issuer.
    const master = cardMasterKey(read.card.pan, read.card.forgedCryptogram ? Buffer.alloc(16) : this.issuerKey);
    const sk = sessionKey(master, atc);
    const arqc = applicationCryptogram(sk, values, CID.ARQC);
    this.session = { ...read, values, sk, arqc };
    return encodeTlv([
      { tag: '9F26', value: arqc },
      { tag: '9F27', value: Buffer.from([CID.ARQC]) },
      { tag: '9F10', value: Buffer.from(ISSUER_APPLICATION_DATA, 'hex') },
      ...Object.entries(values).map(([tag, value]) => ({ tag, value })),
      { tag: '84', value: Buffer.from(aidOf(read.card.pan), 'hex') },
    ]);
  }

  /**
   * Second GENERATE AC. The card approves (TC) only when the host approved (`00`) and its
   * ARPC (91) verifies, or when the terminal approved offline (`Y3`, no issuer data); a
   * card flagged to decline after an online approval always answers AAC.
   */
  complete(arc: string, issuerData: Buffer): Completion | undefined {
    const s = this.session;
    if (!s) return undefined;
    this.session = undefined;
    let issuer: SimTlv[];
    try {
      issuer = decodeTlv(issuerData);
    } catch {
      issuer = [];
    }
    for (const t of issuer) if (t.tag === '71' || t.tag === '72') this.scriptsDelivered.push(encodeTlv([t]).toString('hex').toUpperCase());
    const arpc = issuer.find((t) => t.tag === '91')?.value;
    const issuerOk = arc === 'Y3' ? arpc === undefined : arpc !== undefined && arpc.equals(issuerAuthenticationData(s.sk, s.arqc, arc));
    const approve = (arc === '00' || arc === 'Y3') && issuerOk && !s.card.declinesAfterOnline;
    const cid = approve ? CID.TC : CID.AAC;
    const ac = applicationCryptogram(s.sk, s.values, cid, arc);
    const items: SimTlv[] = [
      { tag: '9F26', value: ac },
      { tag: '9F27', value: Buffer.from([cid]) },
      { tag: '9F36', value: s.values['9F36']! },
      { tag: '95', value: Buffer.from(issuerOk ? '0000000000' : '0000004000', 'hex') },
    ];
    return { kind: approve ? 'TC' : 'AAC', tlv: encodeTlv(items) };
  }
}
