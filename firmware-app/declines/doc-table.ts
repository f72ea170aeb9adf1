import { CATALOG, DECLINE_CATEGORIES, GENERIC_DECLINE, isHostCode, RETRY_CLASSES, type DeclineEntry } from './catalog.js';

const cell = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

function row(code: string, e: Omit<DeclineEntry, 'code'>): string {
  return `| \`${code}\` | ${e.category} | ${e.retry} | ${cell(e.cashier.en)} | ${cell(e.cashier['zh-CN'])} | ${cell(e.customer.en)} | ${cell(e.customer['zh-CN'])} | ${cell(e.cashierHint)} | ${cell(e.technicianHint)} |`;
}

const HEADER = [
  '| Code | Category | Retry | Cashier (en) | Cashier (zh-CN) | Customer (en) | Customer (zh-CN) | Cashier hint | Technician hint |',
  '|---|---|---|---|---|---|---|---|---|',
];

/** docs/decline-codes.md, rendered from the catalog data: the document never drifts from the code. */
export function renderDeclineCodesDoc(): string {
  const codes = Object.keys(CATALOG).sort();
  const host = codes.filter(isHostCode);
  const local = codes.filter((c) => !isHostCode(c));
  return [
    '# Decline codes',
    '',
    '<!-- Generated from firmware-app/declines/catalog.ts by `npm run docs:declines`; do not edit by hand. -->',
    '',
    'Every reason a payment can end without approval, as the cashier screen, the decline slip,',
    'the journal (`transactions.decline_code`), the decline statistics and the upstream `decline`',
    'event (docs/protocols/tms-events.md) show it. Two-character codes are ISO 8583 field 39 as',
    'answered by the acquirer host; the others are decided on the terminal.',
    '',
    `- **Category** (${DECLINE_CATEGORIES.join(', ')}): where the cause lies, which tells a fleet`,
    '  operator whether to look at cards, issuers, terminals, the network, the host or the set-up.',
    `- **Retry** (${RETRY_CLASSES.join(', ')}), after the card schemes' decline categories:`,
    '  `never`: the same card will not be approved for this payment, do not retry it;',
    '  `later`: the cause is temporary, the same payment may succeed later;',
    '  `fix-then-retry`: correct something first (PIN, entry mode, amount, the terminal set-up), then retry.',
    '- A code not listed here gets the generic entry below on the screen and slip, is logged,',
    '  counted in the statistics as unknown, and reported upstream with `known: false`. An',
    '  unlisted `READER_<code>` reads like `READER_CARD_READ_FAILED` (docs/protocols/card-reader.md',
    '  section 8) and is counted as unknown too.',
    '',
    '## Host response codes (field 39)',
    '',
    ...HEADER,
    ...host.map((c) => row(c, CATALOG[c]!)),
    '',
    '## Local reasons',
    '',
    ...HEADER,
    ...local.map((c) => row(c, CATALOG[c]!)),
    '',
    '## Any other code',
    '',
    ...HEADER,
    row('(unknown)', GENERIC_DECLINE),
    '',
  ].join('\n');
}
