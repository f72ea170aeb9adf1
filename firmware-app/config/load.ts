import { z } from 'zod';
import { ConfigError, readConfigText } from './errors.js';
import { configSchema, type Config } from './schema.js';

export { ConfigError };

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** `responseTimeoutMs` -> `RESPONSE_TIMEOUT_MS`, so `POS_HOST_RESPONSE_TIMEOUT_MS` names `host.responseTimeoutMs`. */
function screaming(key: string): string {
  return key.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase();
}

/** The tree of keys the schema knows, read from the schema itself so overrides never drift from it. */
function shapeOf(schema: z.ZodType): Record<string, z.ZodType> | undefined {
  let s: z.ZodType = schema;
  for (;;) {
    const def = (s as unknown as { def: { type: string; innerType?: z.ZodType; shape?: Record<string, z.ZodType> } }).def;
    if (def.type === 'object') return def.shape;
    if (def.innerType && ['default', 'prefault', 'optional', 'nullable'].includes(def.type)) {
      s = def.innerType;
      continue;
    }
    return undefined;
  }
}

function parseEnvValue(raw: string): Json {
  const t = raw.trim();
  if (t === 'true') return true;
  if (t === 'false') return false;
  if (/^-?\d+$/.test(t)) return Number(t);
  if (t.startsWith('{') || t.startsWith('[')) {
    try {
      return JSON.parse(t) as Json;
    } catch {
      return raw;
    }
  }
  return raw;
}

/**
 * Applies `POS_<SECTION>_<KEY>` environment variables on top of the file's values.
 * A variable that names no key is an error: a typo must not silently do nothing.
 */
export function applyEnvOverrides(base: Record<string, Json>, env: NodeJS.ProcessEnv): Record<string, Json> {
  const result = structuredClone(base);
  for (const [name, raw] of Object.entries(env)) {
    if (!name.startsWith('POS_') || raw === undefined) continue;
    const tokens = name.slice(4);
    const path = resolvePath(shapeOf(configSchema), tokens);
    if (!path) throw new ConfigError(`environment variable ${name} does not name a configuration key`, { variable: name });
    let node: Record<string, Json> = result;
    for (const key of path.slice(0, -1)) {
      const next = node[key];
      if (next === undefined || next === null || typeof next !== 'object' || Array.isArray(next)) node[key] = {};
      node = node[key] as Record<string, Json>;
    }
    node[path[path.length - 1]!] = parseEnvValue(raw);
  }
  return result;
}

function resolvePath(shape: Record<string, z.ZodType> | undefined, rest: string): string[] | undefined {
  if (!shape) return undefined;
  for (const [key, child] of Object.entries(shape)) {
    const k = screaming(key);
    if (rest === k) return [key];
    if (rest.startsWith(`${k}_`)) {
      const tail = resolvePath(shapeOf(child), rest.slice(k.length + 1));
      if (tail) return [key, ...tail];
    }
  }
  return undefined;
}

function describeIssues(error: z.ZodError): string {
  return error.issues
    .map((issue) => {
      const where = issue.path.length > 0 ? issue.path.join('.') : '(top level)';
      return `${where}: ${issue.message}`;
    })
    .join('; ');
}

/**
 * Keys the schema does not know, at any depth. zod objects drop unknown keys silently below
 * the top level, so `offline.floorLimt` would fall back to the default floor limit unseen.
 */
function unknownKeys(input: unknown, shape: Record<string, z.ZodType> | undefined, path: string[] = []): string[] {
  if (!shape || input === null || typeof input !== 'object' || Array.isArray(input)) return [];
  return Object.entries(input).flatMap(([key, value]) =>
    Object.hasOwn(shape, key) ? unknownKeys(value, shapeOf(shape[key]!), [...path, key]) : [[...path, key].join('.')],
  );
}

/** Validates a plain object into a Config, naming the field and the problem on failure. */
export function parseConfig(input: unknown): Config {
  const unknown = unknownKeys(input, shapeOf(configSchema));
  if (unknown.length > 0) {
    throw new ConfigError(`invalid configuration: ${unknown.map((k) => `${k}: unknown key`).join('; ')}`, { fields: unknown });
  }
  const result = configSchema.safeParse(input);
  if (!result.success) {
    throw new ConfigError(`invalid configuration: ${describeIssues(result.error)}`, {
      fields: result.error.issues.map((i) => i.path.join('.')),
    });
  }
  return result.data;
}

/** Far deeper than the schema; guards the recursive validators against a hostile file. */
const MAX_NESTING = 32;

/** Iterative, so a pathological file cannot overflow the stack while it is measured. */
function nestingDepth(root: unknown): number {
  let max = 0;
  const stack: [unknown, number][] = [[root, 1]];
  while (stack.length > 0) {
    const [node, depth] = stack.pop()!;
    if (node === null || typeof node !== 'object') continue;
    max = Math.max(max, depth);
    if (max > MAX_NESTING) return max;
    for (const child of Object.values(node)) stack.push([child, depth + 1]);
  }
  return max;
}

export function loadConfig(options: { file?: string; env?: NodeJS.ProcessEnv }): Config {
  return configFromText(options.file ? { file: options.file, text: readConfigText(options.file) } : undefined, options.env);
}

/** Validates a configuration file's text (already read) with the environment's overrides on top. */
export function configFromText(source: { file: string; text: string } | undefined, env: NodeJS.ProcessEnv = {}): Config {
  let fromFile: Record<string, Json> = {};
  if (source) {
    const { file, text } = source;
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (err) {
      throw new ConfigError(`configuration file ${file} is not valid JSON: ${(err as Error).message}`);
    }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
      throw new ConfigError(`configuration file ${file} must hold a JSON object`);
    }
    if (nestingDepth(parsed) > MAX_NESTING) {
      throw new ConfigError(`configuration file ${file} is nested deeper than ${MAX_NESTING} levels`);
    }
    fromFile = parsed as Record<string, Json>;
  }
  return parseConfig(applyEnvOverrides(fromFile, env));
}
