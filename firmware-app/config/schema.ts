import { z } from 'zod';
import { CURRENCIES } from '../core/money.js';
import { isTimeZone, validateCron } from '../jobs/cron.js';
import { PIN_HASH_PATTERN } from '../ui/diagnostics/pin.js';

const currencyCodes = Object.keys(CURRENCIES) as [keyof typeof CURRENCIES, ...(keyof typeof CURRENCIES)[]];

const serialDevice = z.object({
  /** A device path (/dev/ttyS1, /dev/ttyUSB0, a simulator pty). Empty means "use the embedded simulator". */
  path: z.string(),
  baudRate: z.number().int().positive().default(115200),
});

const cronExpression = z.string().refine((expr) => validateCron(expr), 'must be a cron expression (e.g. "30 23 * * *")');

const jobSchedule = (cron: string) => z.object({ enabled: z.boolean().default(true), cron: cronExpression.default(cron) });

const jobsSchema = z
  .object({
    /** IANA zone the cron expressions are read in, e.g. "Asia/Shanghai"; empty = the system's local time. */
    timezone: z
      .string()
      .refine((tz) => tz === '' || isTimeZone(tz), 'must be an IANA time zone such as "Asia/Shanghai"')
      .default(''),
    settlement: jobSchedule('30 23 * * *')
      .extend({
        /** Wait this long for sales of the closing batch still in flight before giving up until the next run. */
        quiesceTimeoutMs: z.number().int().positive().default(90_000),
        /** Wait for the 0510. */
        responseTimeoutMs: z.number().int().positive().default(30_000),
        /** A settlement that failed (host down, queues not drained) is tried again this much later, until it succeeds. */
        retryMs: z.number().int().positive().default(600_000),
      })
      .prefault({}),
    heartbeat: jobSchedule('*/5 * * * *').prefault({}),
    outboxFlush: jobSchedule('* * * * *').prefault({}),
    queueKick: jobSchedule('*/2 * * * *').prefault({}),
    retention: jobSchedule('15 3 * * *')
      .extend({
        /** Journal rows of closed batches older than this lose their PAN token (duplicate checks no longer need it). */
        journalDays: z.number().int().positive().default(180),
        /** Delivered/finished queue rows, job history and rotated log files older than this are deleted. */
        operationalDays: z.number().int().positive().default(30),
      })
      .prefault({}),
    backup: jobSchedule('0 3 * * *')
      .extend({
        /** Folder for the rotating backup files (relative to dataDir unless absolute). */
        dir: z.string().min(1).default('backups'),
        keep: z.number().int().min(1).max(365).default(7),
      })
      .prefault({}),
    /** How long stop() waits for a running job before the process exits anyway. */
    stopGraceMs: z.number().int().positive().default(10_000),
  })
  .prefault({});

/**
 * The single configuration schema. Defaults are chosen so that `npm start` with no file
 * runs against the embedded simulator.
 */
export const configSchema = z
  .object({
    terminal: z
      .object({
        /** ISO 8583 field 41: exactly 8 printable characters. */
        id: z
          .string()
          .regex(/^[ -~]{8}$/, 'must be exactly 8 printable ASCII characters')
          .default('TERM0001'),
        /** ISO 8583 field 42: exactly 15 printable characters. */
        merchantId: z
          .string()
          .regex(/^[ -~]{15}$/, 'must be exactly 15 printable ASCII characters')
          .default('000000000000001'),
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
        /** Extra wait for a READ/PIN answer beyond the reader's own timeout. */
        interactiveMarginMs: z.number().int().positive().default(2000),
        /** Transmissions of one frame in all (NAK and retransmit). */
        maxTransmissions: z.number().int().min(1).max(10).default(3),
        reconnectMinMs: z.number().int().positive().default(200),
        reconnectMaxMs: z.number().int().positive().default(5000),
        /** How often the link is checked; bounds how long an unplugged reader goes unnoticed. 0 disables. */
        healthProbeMs: z.number().int().min(0).default(5000),
      })
      .prefault({ path: '' }),
    printer: serialDevice
      .extend({
        widthMm: z.union([z.literal(58), z.literal(80)]).default(58),
        statusTimeoutMs: z.number().int().positive().default(1000),
        /** While receipts wait (paper out, cover open, offline), the printer's status is read this often. */
        pollIntervalMs: z.number().int().positive().default(2000),
        /** Approvals print a merchant copy before the customer copy. */
        merchantCopy: z.boolean().default(true),
        /** E-receipt link prefix printed as a QR code (the transaction uuid is appended); empty: no QR. */
        eReceiptUrl: z.string().max(512).default(''),
      })
      .prefault({ path: '' }),
    host: z
      .object({
        address: z.string().min(1).default('127.0.0.1'),
        /** 0 means "use the embedded simulator's port". */
        port: z.number().int().min(0).max(65535).default(0),
        /** ISO 8583 field 24, network international identifier assigned by the acquirer. */
        nii: z
          .string()
          .regex(/^\d{3}$/, 'must be 3 digits')
          .default('001'),
        connectTimeoutMs: z.number().int().positive().default(5000),
        responseTimeoutMs: z.number().int().positive().default(30_000),
        reconnectMinMs: z.number().int().positive().default(250),
        reconnectMaxMs: z.number().int().positive().default(30_000),
        /**
         * An echo test (0800/301) goes out after this long without a frame from the host. With echoTimeoutMs it bounds
         * how long a silently dead link (4G/NAT half-open) still shows online: at most the sum, 13 s by default.
         */
        echoIntervalMs: z.number().int().positive().default(8_000),
        /** A sign-on or echo unanswered this long means the connection is dead: it is reset and the terminal reconnects. */
        echoTimeoutMs: z.number().int().positive().default(5_000),
        /**
         * A request unanswered this long, with nothing heard from the host meanwhile, sends an echo on the same
         * connection: a dead one is given up (and the request reversed) after probeAfterMs + echoTimeoutMs, a live one
         * keeps the full responseTimeoutMs.
         */
        probeAfterMs: z.number().int().positive().default(3_000),
        /** Wait for a 0410 before the reversal is repeated as a 0401. */
        reversalTimeoutMs: z.number().int().positive().default(15_000),
        /** Reversal repeats back off exponentially from min to max (with jitter), forever. */
        reversalBackoffMinMs: z.number().int().positive().default(2_000),
        reversalBackoffMaxMs: z.number().int().positive().default(300_000),
        /** After this many unacknowledged attempts a reversal raises an alert (and keeps going). */
        reversalAlertAfter: z.number().int().positive().default(5),
        /** Reversal first: a pending reversal is delivered (0410 awaited) before the next 0200 leaves. */
        reversalFirst: z.boolean().default(true),
        /** How long a payment waits for pending reversals to be acknowledged before it is refused, nothing sent. */
        reversalFirstTimeoutMs: z.number().int().positive().default(20_000),
      })
      .prefault({}),
    log: z
      .object({
        level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
        /**
         * Where log lines go: `stdout` or `stderr` (journald under systemd; the shipped unit keeps stdout for the
         * cashier console and sends stderr to the journal), or `file`.
         */
        target: z.enum(['stdout', 'stderr', 'file']).default('file'),
        /** Log file with `target` = `file`; relative to dataDir unless absolute. */
        file: z.string().min(1).default('pos-companion.log'),
        /** The log file is rotated before it grows past this many bytes. */
        maxBytes: z
          .number()
          .int()
          .min(4096)
          .default(10 * 1024 * 1024),
        /** Rotated log files kept (`pos-companion.log.1` newest); disk use stays under maxBytes x (maxFiles + 1). */
        maxFiles: z.number().int().min(1).max(100).default(5),
      })
      .prefault({}),
    /** Offline approval limits (docs/offline-and-saf.md explains each default). Amounts in minor units of terminal.currency. */
    offline: z
      .object({
        enabled: z.boolean().default(true),
        floorLimit: z.number().int().nonnegative().default(25_000),
        maxTotalAmount: z.number().int().nonnegative().default(1_000_000),
        maxCount: z.number().int().nonnegative().default(500),
        maxAgeMs: z
          .number()
          .int()
          .positive()
          .default(24 * 60 * 60 * 1000),
        entryModes: z.array(z.enum(['CHIP', 'CTLS', 'SWIPE', 'MANUAL'])).default(['CHIP', 'CTLS']),
        hotListedTokens: z.array(z.string().regex(/^[0-9a-f]{16,128}$/, 'must be a hex PAN token')).default([]),
      })
      .prefault({}),
    /** Cardholder verification by PIN (docs/protocols/card-reader.md section 7.2). Amounts in minor units of terminal.currency. */
    cvm: z
      .object({
        /**
         * Per entry mode, the largest sale approved without a PIN; above it the cardholder enters one (a card may ask at
         * every amount). 100000 is 1000.00 CNY, the everyday limit for contactless without PIN or signature.
         */
        limits: z
          .object({
            CHIP: z.number().int().nonnegative().default(100_000),
            CTLS: z.number().int().nonnegative().default(100_000),
            SWIPE: z.number().int().nonnegative().default(100_000),
            MANUAL: z.number().int().nonnegative().default(100_000),
          })
          .prefault({}),
        /** The cardholder may skip PIN entry where the card allows it too; otherwise a bypass declines the sale. */
        allowBypass: z.boolean().default(false),
        /** How long the reader waits for the PIN. */
        pinTimeoutMs: z.number().int().positive().default(30_000),
        /** PIN entries per sale in all: a wrong PIN (55) is asked again until this many went to the host. */
        pinTries: z.number().int().min(1).max(5).default(3),
      })
      .prefault({}),
    /** The store-and-forward forwarder that sends offline approvals as advices. */
    saf: z
      .object({
        window: z.number().int().min(1).max(16).default(1),
        responseTimeoutMs: z.number().int().positive().default(15_000),
        backoffMinMs: z.number().int().positive().default(2_000),
        backoffMaxMs: z.number().int().positive().default(300_000),
        /** Timeouts after which a merchant alert is raised; forwarding itself never gives up before expiry. */
        maxAttempts: z.number().int().positive().default(10),
        /**
         * Advices whose transmissions one commit counts ahead of time (one fsync for this many advices on a drain). After a
         * crash each of them goes as a 0221 repeat, whether it had left or not; the host posts each once either way.
         */
        countAhead: z.number().int().min(1).max(500).default(32),
        /** Longest time an accepted advice waits for the commit that records it; a crash before it means one more 0221. */
        holdMs: z.number().int().min(1).max(5_000).default(100),
      })
      .prefault({}),
    /**
     * Scheduled jobs (firmware-app/jobs): cron expressions evaluated in `timezone`, as crontab(5) reads them: five fields (minute hour day-of-month month day-of-week) or six with seconds first; lists, ranges, steps, month and weekday names, 0 or 7 for Sunday, @daily and the other short forms. When both day-of-month and day-of-week are restricted, a day matching either is a slot; a job with a fixed hour runs once on the day the clocks go back, and not at all at a time the clocks skip.
     */
    jobs: jobsSchema,
    /** Upstream reporting to the terminal-management server (docs/protocols/tms-events.md). */
    tms: z
      .object({
        /** The TMS events endpoint. Empty: the embedded simulator's in sim mode, otherwise events wait in the outbox. */
        url: z
          .string()
          .refine((v) => v === '' || /^https?:\/\/\S+$/.test(v), 'must be an http(s) URL or empty')
          .default(''),
        /** Events per POST. */
        batchSize: z.number().int().min(1).max(500).default(50),
        /** A POST unanswered this long counts as failed; its events are sent again (the TMS ignores repeats). */
        requestTimeoutMs: z.number().int().positive().default(10_000),
        /** First retry delay after a failed POST; doubles per attempt, with jitter. */
        retryMinMs: z.number().int().positive().default(2_000),
        /** Longest retry delay; retrying never stops. */
        retryMaxMs: z.number().int().positive().default(300_000),
        /** How often the outbox is checked when nothing new was queued. */
        pollMs: z.number().int().positive().default(30_000),
      })
      .prefault({}),
    /** Rate and age monitors that raise alerts locally and upstream. Rates are whole percents. */
    alerts: z
      .object({
        /** The sliding window the decline and timeout rates are computed over. */
        windowMs: z
          .number()
          .int()
          .positive()
          .default(15 * 60 * 1000),
        /** Fewer outcomes than this in the window: no rate alert is raised, and an open one clears. */
        minSamples: z.number().int().min(1).default(10),
        /** Declined sales over this percent of the sales finished in the window raise the decline-rate alert. */
        declineRatePercent: z.number().int().min(1).max(100).default(50),
        /** The decline-rate alert clears below this percent. */
        declineClearPercent: z.number().int().min(0).max(100).default(30),
        /** Host timeouts over this percent of the requests sent in the window raise the timeout-rate alert. */
        timeoutRatePercent: z.number().int().min(1).max(100).default(20),
        /** The timeout-rate alert clears below this percent. */
        timeoutClearPercent: z.number().int().min(0).max(100).default(10),
        /** The oldest queued offline payment older than this raises an alert. */
        offlineQueueAgeMs: z
          .number()
          .int()
          .positive()
          .default(12 * 60 * 60 * 1000),
        /** How often the monitors look again with no new sale (so a quiet window clears). */
        evaluateEveryMs: z.number().int().positive().default(60_000),
      })
      .prefault({}),
    /** Technician diagnostic menu and the local control socket behind `npm run diag`. */
    diagnostics: z
      .object({
        /** scrypt hash of the technician PIN (`npm run diag -- --hash-pin`); empty keeps the menu closed (the embedded simulator uses PIN 0000). */
        pinHash: z
          .string()
          .refine((v) => v === '' || PIN_HASH_PATTERN.test(v), 'must be a scrypt$N$r$p$salt$hash string from npm run diag -- --hash-pin')
          .default(''),
        /** Wrong PINs in a row before the menu locks. */
        maxPinFailures: z.number().int().min(1).max(10).default(5),
        /** First lockout; every further lockout doubles it, up to lockoutMaxMs. Kept across restarts. */
        lockoutMs: z.number().int().positive().default(60_000),
        /** At least 30 minutes (PCI DSS 8.3.4), so repeated guessing always ends in a long lockout. */
        lockoutMaxMs: z.number().int().min(1_800_000, 'must be at least 1800000 (30 minutes)').default(3_600_000),
        /** Unix socket of the control server (relative to dataDir unless absolute); empty disables it. */
        controlSocket: z.string().default('control.sock'),
      })
      .prefault({}),
    /** The cashier console. */
    ui: z
      .object({
        /** How long a payment's result stays on screen before the console goes back to amount entry by itself; a key goes back at once (and counts there). */
        resultHoldMs: z.number().int().min(0).max(600_000).default(5000),
        /** Refund and void ask for the supervisor PIN; a refund without its original sale asks for it even when this is off. */
        supervisorRequired: z.boolean().default(true),
        /** scrypt hash of the supervisor PIN (`npm run diag -- --hash-pin`); empty refuses every supervisor step (the embedded simulator uses PIN 1111). */
        supervisorPinHash: z
          .string()
          .refine((v) => v === '' || PIN_HASH_PATTERN.test(v), 'must be a scrypt$N$r$p$salt$hash string from npm run diag -- --hash-pin')
          .default(''),
      })
      .prefault({}),
    /** Start the simulator inside the process and point every device at it. */
    sim: z.boolean().default(false),
  })
  .strict();

export type Config = z.infer<typeof configSchema>;
export type ConfigInput = z.input<typeof configSchema>;
