/**
 * Generates docs/configuration.md from the schema itself, so the reference can never
 * describe a key the product does not have or miss one it does. Types and defaults come
 * from the zod schema at run time; meanings come from the `/** ... *\/` comment written
 * above each key in schema.ts. A development tool: it needs the TypeScript compiler and is
 * not shipped in the package.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { z } from 'zod';
import { configSchema } from './schema.js';

interface JsonSchema {
  type?: string;
  properties?: Record<string, JsonSchema>;
  items?: JsonSchema;
  anyOf?: JsonSchema[];
  enum?: unknown[];
  const?: unknown;
  default?: unknown;
  pattern?: string;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  maxItems?: number;
}

export interface KeyRow {
  path: string[];
  type: string;
  /** JSON text of the default, or undefined when the key must be given. */
  default: string | undefined;
  meaning: string | undefined;
}

export interface SectionDoc {
  key: string;
  meaning: string | undefined;
  rows: KeyRow[];
}

/** Meanings for keys written before every key carried a comment in schema.ts. */
const MEANINGS: Record<string, string> = {
  'terminal.merchantName': 'Shop name printed at the top of every receipt.',
  'terminal.currency': 'ISO 4217 currency of every amount; amounts are integer minor units of it.',
  'terminal.language': 'Language of cashier screens and receipts.',
  dataDir:
    'Folder for the database (`pos-companion.db`, mode 0600), its backups and, with `log.target` = `file`, the log file. Relative paths are resolved from the working directory.',
  'reader.baudRate': 'Serial line speed of the card reader.',
  'reader.commandTimeoutMs': 'Wait for the card reader to answer a command before it is retransmitted or fails.',
  'reader.readTimeoutMs': 'Wait for the customer to present a card before the sale is cancelled.',
  'reader.reconnectMinMs': 'First delay before reopening a lost card-reader port; doubles up to `reader.reconnectMaxMs`.',
  'reader.reconnectMaxMs': 'Longest delay between attempts to reopen the card-reader port.',
  'printer.baudRate': 'Serial line speed of the receipt printer.',
  'printer.widthMm': 'Paper width; sets the characters per line of receipts.',
  'printer.statusTimeoutMs': 'Wait for the printer to answer a real-time status query.',
  'host.address': 'Acquirer host name or IP address.',
  'host.connectTimeoutMs': 'Give up one TCP connection attempt to the host after this long.',
  'host.responseTimeoutMs': 'Wait for a 0210 before the sale is reversed (never re-sent).',
  'host.reconnectMinMs': 'First delay before reconnecting to the host; doubles up to `host.reconnectMaxMs`.',
  'host.reconnectMaxMs': 'Longest delay between reconnection attempts to the host.',
  'host.reversalBackoffMaxMs': 'Longest delay between repeats of a reversal (0401); repeats never stop.',
  'host.reversalFirst':
    'Deliver every pending reversal, 0410 received, before the next sale, refund or void goes to the host (the acquirer rule).',
  'host.reversalFirstTimeoutMs': 'Longest wait for pending reversals before a payment; after it the payment is refused, nothing sent.',
  'log.level': 'Least severe level written; the diagnostic menu can change it until the next restart.',
  'offline.enabled': 'Approve small payments offline when the host cannot be reached.',
  'offline.floorLimit': 'Largest single offline approval, minor units.',
  'offline.maxTotalAmount': 'Largest total of offline approvals waiting to be forwarded, minor units.',
  'offline.maxCount': 'Most offline approvals waiting to be forwarded.',
  'offline.maxAgeMs': 'An offline approval not forwarded within this time expires and raises an alert.',
  'offline.entryModes': 'Card entry modes allowed offline.',
  'offline.hotListedTokens': 'PAN tokens always declined offline.',
  'cvm.limits.CHIP': 'Largest chip sale without a PIN, minor units; above it the cardholder enters one.',
  'cvm.limits.CTLS': 'Largest contactless sale without a PIN or signature, minor units (100000 = 1000.00 CNY).',
  'cvm.limits.SWIPE': 'Largest magnetic-stripe sale without a PIN, minor units.',
  'cvm.limits.MANUAL': 'Largest keyed sale without a PIN, minor units.',
  'saf.window': 'Advices (0220/0221) in flight at once.',
  'saf.responseTimeoutMs': 'Wait for a 0230 before the advice is repeated as a 0221.',
  'saf.backoffMinMs': 'First delay before an advice is repeated; doubles (with jitter) up to `saf.backoffMaxMs`.',
  'saf.backoffMaxMs': 'Longest delay between repeats of an advice.',
  'jobs.settlement.enabled': 'Run end-of-day settlement on its schedule.',
  'jobs.settlement.cron': 'When settlement runs.',
  'jobs.heartbeat.enabled': 'Send heartbeats to the terminal-management server.',
  'jobs.heartbeat.cron': 'When a heartbeat is sent.',
  'jobs.outboxFlush.enabled': 'Run the outbox flush (delivery of queued upstream events) on its schedule.',
  'jobs.outboxFlush.cron': 'When the outbox is flushed.',
  'jobs.queueKick.enabled': 'Wake the SAF forwarder and reversal sender on a schedule.',
  'jobs.queueKick.cron': 'When the SAF and reversal queues are kicked.',
  'jobs.retention.enabled': 'Purge old rows and log files on a schedule.',
  'jobs.retention.cron': 'When the retention purge runs.',
  'jobs.backup.enabled': 'Take the nightly database backup.',
  'jobs.backup.cron': 'When the database backup runs.',
  'jobs.backup.keep': 'Number of nightly backup files kept; older ones are deleted.',
  'diagnostics.lockoutMaxMs': 'Longest lockout of the diagnostic menu after repeated wrong PINs.',
};

const MAX_SAFE = Number.MAX_SAFE_INTEGER;

function code(text: string): string {
  return `\`${text.replace(/\|/g, '\\|')}\``;
}

function literal(value: unknown): string {
  return JSON.stringify(value);
}

/** A short human type: `integer > 0`, `"en" | "zh-CN"`, `array of string`. */
export function describeType(s: JsonSchema): string {
  if (s.anyOf) return s.anyOf.map(describeType).join(' | ');
  if (s.const !== undefined) return literal(s.const);
  if (s.enum) return s.enum.map(literal).join(' | ');
  if (s.type === 'array') {
    const bounds = s.minItems !== undefined || s.maxItems !== undefined ? ` (${s.minItems ?? 0}..${s.maxItems ?? ''} items)` : '';
    return `array of ${s.items ? describeType(s.items) : 'any'}${bounds}`;
  }
  if (s.type === 'integer' || s.type === 'number') {
    const parts: string[] = [];
    if (s.exclusiveMinimum !== undefined) parts.push(`> ${s.exclusiveMinimum}`);
    if (s.minimum !== undefined && s.maximum !== undefined && s.maximum < MAX_SAFE) return `${s.type} ${s.minimum}..${s.maximum}`;
    if (s.minimum !== undefined) parts.push(`>= ${s.minimum}`);
    if (s.maximum !== undefined && s.maximum < MAX_SAFE) parts.push(`<= ${s.maximum}`);
    return [s.type, ...parts].join(' ');
  }
  if (s.type === 'string') {
    if (s.pattern) return `string matching \`${s.pattern}\``;
    if (s.minLength !== undefined && s.maxLength !== undefined) return `string, ${s.minLength} to ${s.maxLength} characters`;
    if (s.minLength) return 'non-empty string';
    return 'string';
  }
  return s.type ?? 'any';
}

/**
 * JSDoc text of each property in schema.ts, keyed by the chain of property names that
 * encloses it. A chain inside the `configSchema` object is the full key path; a chain inside
 * a helper (a `const` or function building part of the schema) is a tail of the paths it
 * is used at.
 */
export function commentsFromSource(source: string): { full: Map<string, string>; tails: Map<string, string> } {
  const file = ts.createSourceFile('schema.ts', source, ts.ScriptTarget.ES2022, true);
  const full = new Map<string, string>();
  const tails = new Map<string, string>();
  const visit = (node: ts.Node, chain: string[], rooted: boolean): void => {
    let nextChain = chain;
    let nextRooted = rooted;
    if (ts.isVariableDeclaration(node) && ts.isIdentifier(node.name)) {
      nextChain = [];
      nextRooted = node.name.text === 'configSchema';
    } else if (ts.isPropertyAssignment(node) && (ts.isIdentifier(node.name) || ts.isStringLiteral(node.name))) {
      nextChain = [...chain, node.name.text];
      const docs = ts.getJSDocCommentsAndTags(node).filter(ts.isJSDoc);
      const text = docs
        .map((d) => ts.getTextOfJSDocComment(d.comment) ?? '')
        .join(' ')
        .replace(/\s+/g, ' ')
        .trim();
      if (text) (rooted ? full : tails).set(nextChain.join('.'), text);
    }
    ts.forEachChild(node, (child) => visit(child, nextChain, nextRooted));
  };
  visit(file, [], false);
  return { full, tails };
}

function meaningFor(path: string[], comments: ReturnType<typeof commentsFromSource>): string | undefined {
  const key = path.join('.');
  const exact = comments.full.get(key);
  if (exact) return exact;
  for (let start = 1; start < path.length; start++) {
    const tail = comments.tails.get(path.slice(start).join('.'));
    if (tail) return tail;
  }
  return MEANINGS[key];
}

/** Every configuration key grouped by top-level section, with type, default and meaning. */
export function collectReference(schemaSource: string): SectionDoc[] {
  const json = z.toJSONSchema(configSchema, { io: 'input', unrepresentable: 'any' }) as JsonSchema;
  const comments = commentsFromSource(schemaSource);
  const rows = (node: JsonSchema, path: string[], inherited: unknown): KeyRow[] => {
    if (node.type === 'object' && node.properties) {
      const defaults = (node.default ?? inherited) as Record<string, unknown> | undefined;
      return Object.entries(node.properties).flatMap(([k, child]) => rows(child, [...path, k], defaults?.[k]));
    }
    const def = node.default ?? inherited;
    return [{ path, type: describeType(node), default: def === undefined ? undefined : literal(def), meaning: meaningFor(path, comments) }];
  };
  const top: SectionDoc = { key: '', meaning: undefined, rows: [] };
  const sections: SectionDoc[] = [top];
  for (const [key, child] of Object.entries(json.properties ?? {})) {
    if (child.type === 'object' && child.properties) {
      sections.push({ key, meaning: comments.full.get(key), rows: rows(child, [key], undefined) });
    } else {
      top.rows.push(...rows(child, [key], undefined));
    }
  }
  return sections;
}

function envName(path: string[]): string {
  return `POS_${path.map((p) => p.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase()).join('_')}`;
}

export function renderReference(sections: SectionDoc[]): string {
  const out: string[] = [
    '# Configuration reference',
    '',
    '<!-- Generated from firmware-app/config/schema.ts by `npm run docs:config`; edit the schema, not this file. -->',
    '',
    'The terminal reads one JSON file given with `--config FILE` (production: `/etc/pos-companion/config.json`).',
    'Every key is optional unless its default says "required"; unknown keys are rejected, so a typo stops the',
    'process instead of being ignored. `--check-config` validates the file (and the environment overrides) and',
    'exits: 0 when valid, 2 with a message naming the field and the problem otherwise.',
    '',
    'Any key can be overridden from the environment: the key path in upper case with `_` between words and',
    'sections, prefixed `POS_` (column "environment"). Numbers and `true`/`false` are parsed; arrays and',
    'objects are given as JSON. A `POS_` variable that names no key is an error.',
    '',
    'A commented production example is `docs/deploy/config.example.jsonc`.',
    '',
  ];
  for (const section of sections) {
    if (section.rows.length === 0) continue;
    out.push(section.key ? `## \`${section.key}\`` : '## Top level', '');
    if (section.meaning) out.push(section.meaning, '');
    out.push('| key | type | default | environment | meaning |', '|---|---|---|---|---|');
    for (const row of section.rows) {
      out.push(
        `| ${code(row.path.join('.'))} | ${row.type.replace(/\|/g, '\\|')} | ${row.default === undefined ? 'required' : code(row.default)} | ${code(envName(row.path))} | ${(row.meaning ?? '').replace(/\|/g, '\\|')} |`,
      );
    }
    out.push('');
  }
  return out.join('\n');
}

export function undocumentedKeys(sections: SectionDoc[]): string[] {
  return sections.flatMap((s) => s.rows.filter((r) => !r.meaning).map((r) => r.path.join('.')));
}

export function generateReference(root: string): string {
  return renderReference(collectReference(readFileSync(resolve(root, 'firmware-app/config/schema.ts'), 'utf8')));
}

export const REFERENCE_FILE = 'docs/configuration.md';

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const root = process.cwd();
  const text = generateReference(root);
  const target = resolve(root, REFERENCE_FILE);
  if (process.argv.includes('--check')) {
    const current = readFileSync(target, 'utf8');
    if (current !== text) {
      process.stderr.write(`${REFERENCE_FILE} is stale: run npm run docs:config\n`);
      process.exit(1);
    }
  } else {
    writeFileSync(target, text);
    process.stdout.write(`wrote ${REFERENCE_FILE}\n`);
  }
}
