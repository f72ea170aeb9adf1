/**
 * Every field-39 code the simulated host can answer with, as data: the codes it decides
 * on its own (approval, the card-based decisions, settlement results) and the codes of
 * docs/protocols/host-iso8583.md section 8 that tests script with `queue({type: 'decline', code})`.
 * test/unit/decline-catalog.test.ts checks that every code rules.ts answers with on its
 * own is listed here and that the decline catalog explains every code listed, so a new host
 * behaviour cannot reach a cashier without an explanation.
 */
export const HOST_SIM_RESPONSE_CODES = [
  '00',
  '01',
  '03',
  '04',
  '05',
  '12',
  '13',
  '14',
  '30',
  '41',
  '43',
  '51',
  '54',
  '55',
  '57',
  '58',
  '61',
  '62',
  '63',
  '65',
  '68',
  '75',
  '91',
  '94',
  '95',
  '96',
] as const;
