import type { IsoMessage } from './iso8583/packager.js';

/**
 * What an answer must look like next to the request it was matched to: the table of
 * docs/protocols/host-iso8583.md section 6.1, as data. Matching (MTI class + 41 + 11)
 * only pairs the two; this decides whether the terminal may act on the answer at all.
 */
export interface AnswerRule {
  /** Present in the request -> present in the answer with exactly the request's value. */
  readonly echo: readonly number[];
  /** Present in the answer only if the request carried it, then with the request's value. */
  readonly optionalEcho: readonly number[];
  /** Present in every answer. */
  readonly required: readonly number[];
  /** Present, and not blank, when field 39 is `00`. */
  readonly requiredOnApproval: readonly number[];
  /** Every field the answer may carry; anything else makes it invalid. */
  readonly allowed: readonly number[];
}

const FINANCIAL_ECHO = [3, 4, 11, 24, 41, 42, 49] as const;

export const ANSWER_RULES: Readonly<Record<string, AnswerRule>> = Object.freeze({
  '0210': {
    echo: [...FINANCIAL_ECHO, 62],
    optionalEcho: [90],
    required: [7, 39],
    requiredOnApproval: [37, 38],
    allowed: [3, 4, 7, 11, 24, 37, 38, 39, 41, 42, 44, 49, 55, 62, 64, 90, 128],
  },
  '0230': {
    echo: FINANCIAL_ECHO,
    optionalEcho: [],
    required: [7, 39],
    requiredOnApproval: [],
    allowed: [3, 4, 7, 11, 24, 37, 39, 41, 42, 44, 49],
  },
  '0410': {
    echo: FINANCIAL_ECHO,
    optionalEcho: [90],
    required: [7, 39],
    requiredOnApproval: [],
    allowed: [3, 4, 7, 11, 24, 37, 39, 41, 42, 44, 49, 90],
  },
  '0510': {
    echo: [11, 24, 41, 42, 60],
    optionalEcho: [],
    required: [7, 39],
    requiredOnApproval: [],
    allowed: [7, 11, 24, 39, 41, 42, 44, 60],
  },
  '0810': { echo: [11, 24, 41, 70], optionalEcho: [], required: [7, 39], requiredOnApproval: [], allowed: [7, 11, 24, 39, 41, 44, 70] },
});

export type AnswerProblemKind = 'changed' | 'missing' | 'unexpected' | 'format' | 'unknown-answer';

/** Field numbers and kinds only: a value may be card data, so none is ever kept here. */
export interface AnswerProblem {
  field: number | null;
  kind: AnswerProblemKind;
}

/** Field 39: two characters, digits or capital letters (ISO 8583:1987 codes such as `00`, `Q1`). */
const RESPONSE_CODE = /^[0-9A-Z]{2}$/;

/** Field 7, MMDDhhmmss: a real month, day and time of day. */
function validTransmissionTime(v: string): boolean {
  const m = /^(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)$/.exec(v);
  if (!m) return false;
  const [month, day, hh, mm, ss] = m.slice(1).map(Number) as [number, number, number, number, number];
  return month >= 1 && month <= 12 && day >= 1 && day <= 31 && hh < 24 && mm < 60 && ss < 60;
}

function same(a: string | Buffer, b: string | Buffer): boolean {
  if (typeof a === 'string' || typeof b === 'string') return a === b;
  return a.equals(b);
}

/**
 * Checks an answer against the request it was matched to; an empty list means the
 * terminal may act on it. Pure: no I/O, no clock.
 */
export function checkAnswer(request: IsoMessage, answer: IsoMessage): AnswerProblem[] {
  const rule = Object.hasOwn(ANSWER_RULES, answer.mti) ? ANSWER_RULES[answer.mti] : undefined;
  if (!rule) return [{ field: null, kind: 'unknown-answer' }];
  const problems: AnswerProblem[] = [];
  const req = request.fields;
  const ans = answer.fields;
  for (const n of rule.echo) {
    const sent = req.get(n);
    if (sent === undefined) continue;
    const got = ans.get(n);
    if (got === undefined) problems.push({ field: n, kind: 'missing' });
    else if (!same(sent, got)) problems.push({ field: n, kind: 'changed' });
  }
  for (const n of rule.optionalEcho) {
    const got = ans.get(n);
    if (got === undefined) continue;
    const sent = req.get(n);
    if (sent === undefined) problems.push({ field: n, kind: 'unexpected' });
    else if (!same(sent, got)) problems.push({ field: n, kind: 'changed' });
  }
  for (const n of rule.required) if (!ans.has(n)) problems.push({ field: n, kind: 'missing' });
  // A MACed request is answered with a MAC (section 4.8); the reader checks its value.
  if ((req.has(64) || req.has(128)) && !ans.has(64) && !ans.has(128)) problems.push({ field: 64, kind: 'missing' });
  for (const n of ans.keys()) if (!rule.allowed.includes(n)) problems.push({ field: n, kind: 'unexpected' });

  const code = ans.get(39);
  if (code !== undefined && (typeof code !== 'string' || !RESPONSE_CODE.test(code))) problems.push({ field: 39, kind: 'format' });
  const at = ans.get(7);
  if (at !== undefined && (typeof at !== 'string' || !validTransmissionTime(at))) problems.push({ field: 7, kind: 'format' });
  if (code === '00') {
    for (const n of rule.requiredOnApproval) {
      const v = ans.get(n);
      if (v === undefined || (typeof v === 'string' && v.trim() === '')) problems.push({ field: n, kind: 'missing' });
    }
  }
  return problems;
}

/** "4 changed, 38 missing": for logs and the error, field numbers only. */
export function describeProblems(problems: readonly AnswerProblem[]): string {
  return problems.map((p) => (p.field === null ? p.kind : `${p.field} ${p.kind}`)).join(', ');
}

/** Runs of 12 or more digits could be a card number a host put into free text; they never reach a log. */
const LONG_DIGITS = /\d{12,}/g;

/**
 * What the terminal logs of an answer (at debug): response code, field 44 text, approval
 * code and RRN. Built only from those four fields, with field 44 scrubbed of digit runs,
 * so no card data can reach the trace whatever the host sends.
 */
export function answerTrace(answer: IsoMessage): Record<string, string | null> {
  const text = (n: number): string | null => {
    const v = answer.fields.get(n);
    return typeof v === 'string' ? v.trim() : null;
  };
  return {
    mti: answer.mti,
    responseCode: text(39),
    text: text(44)?.replace(LONG_DIGITS, '[digits]') ?? null,
    authCode: text(38),
    rrn: text(37),
  };
}
