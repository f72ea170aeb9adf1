import { z } from 'zod';
import { CURRENCIES } from '../core/money.js';

const currencyCodes = Object.keys(CURRENCIES) as [keyof typeof CURRENCIES, ...(keyof typeof CURRENCIES)[]];

const serialDevice = z.object({
  /** A device path (/dev/ttyS1, /dev/ttyUSB0, a simulator pty). Empty means "use the embedded simulator". */
  path: z.string(),
  baudRate: z.number().int().positive().default(115200),
});

/**
 * The single configuration schema. Defaults are chosen so that `npm start` with no file
 * runs against the embedded simulator.
 */
export const configSchema = z
  .object({
    terminal: z
      .object({
        /** ISO 8583 field 41: exactly 8 printable characters. */
        id: z.string().regex(/^[ -~]{8}$/, 'must be exactly 8 printable ASCII characters').default('TERM0001'),
        /** ISO 8583 field 42: exactly 15 printable characters. */
        merchantId: z.string().regex(/^[ -~]{15}$/, 'must be exactly 15 printable ASCII characters').default('000000000000001'),
        merchantName: z.string().min(1).max(64).default('Demo Store'),
        currency: z.enum(currencyCodes).default('CNY'),
        /** Largest single payment the terminal accepts, in minor units. */
        maxAmount: z.number().int().positive().default(10_000_000),
        language: z.enum(['en', 'zh-CN']).default('en'),
      })
      .prefault({}),
    dataDir: z.string().min(1).default('var'),
    reader: serialDevice
      .extend({
        commandTimeoutMs: z.number().int().positive().default(2000),
        readTimeoutMs: z.number().int().positive().default(30_000),
      })
      .prefault({ path: '' }),
    printer: serialDevice
      .extend({
        widthMm: z.union([z.literal(58), z.literal(80)]).default(58),
        statusTimeoutMs: z.number().int().positive().default(1000),
      })
      .prefault({ path: '' }),
    host: z
      .object({
        address: z.string().min(1).default('127.0.0.1'),
        /** 0 means "use the embedded simulator's port". */
        port: z.number().int().min(0).max(65535).default(0),
        /** ISO 8583 field 24, network international identifier assigned by the acquirer. */
        nii: z.string().regex(/^\d{3}$/, 'must be 3 digits').default('001'),
        connectTimeoutMs: z.number().int().positive().default(5000),
        responseTimeoutMs: z.number().int().positive().default(30_000),
        reconnectMinMs: z.number().int().positive().default(250),
        reconnectMaxMs: z.number().int().positive().default(30_000),
      })
      .prefault({}),
    log: z
      .object({
        level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
        /** Where log lines go: stdout (journald), or a file (path relative to dataDir unless absolute). */
        target: z.enum(['stdout', 'file']).default('file'),
        file: z.string().min(1).default('pos-companion.log'),
      })
      .prefault({}),
    /** Start the simulator inside the process and point every device at it. */
    sim: z.boolean().default(false),
  })
  .strict();

export type Config = z.infer<typeof configSchema>;
export type ConfigInput = z.input<typeof configSchema>;
