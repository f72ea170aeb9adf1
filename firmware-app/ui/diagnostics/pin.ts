import { randomBytes, scryptSync, timingSafeEqual } from 'node:crypto';
import type { Clock } from '../../../drivers/base/clock.js';
import { PosError } from '../../../drivers/base/errors.js';

/**
 * Technician PINs are stored as `scrypt$N$r$p$<salt base64>$<hash base64>` so the cost
 * parameters travel with the hash and can be raised later without breaking old configs.
 */
export const PIN_HASH_PATTERN = /^scrypt\$\d+\$\d+\$\d+\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$/;

export interface ScryptCost {
  N: number;
  r: number;
  p: number;
}

export const DEFAULT_COST: ScryptCost = { N: 16_384, r: 8, p: 1 };
const KEY_LENGTH = 32;

export class PinHashError extends PosError {
  constructor(message: string) {
    super('DIAG_PIN_HASH_INVALID', message);
  }
}

export function hashPin(pin: string, cost: ScryptCost = DEFAULT_COST, salt: Buffer = randomBytes(16)): string {
  const hash = scryptSync(pin, salt, KEY_LENGTH, { N: cost.N, r: cost.r, p: cost.p, maxmem: 256 * cost.N * cost.r });
  return `scrypt$${cost.N}$${cost.r}$${cost.p}$${salt.toString('base64')}$${hash.toString('base64')}`;
}

export function verifyPin(pin: string, encoded: string): boolean {
  if (!PIN_HASH_PATTERN.test(encoded)) throw new PinHashError('technician PIN hash is not in scrypt$N$r$p$salt$hash form');
  const [, n, r, p, salt, hash] = encoded.split('$') as [string, string, string, string, string, string];
  const expected = Buffer.from(hash, 'base64');
  const cost = { N: Number(n), r: Number(r), p: Number(p) };
  const actual = scryptSync(pin, Buffer.from(salt, 'base64'), expected.length, { ...cost, maxmem: 256 * cost.N * cost.r });
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}

export type LoginResult =
  | { ok: true }
  | { ok: false; reason: 'wrong-pin'; attemptsLeft: number }
  | { ok: false; reason: 'locked'; lockedForMs: number }
  | { ok: false; reason: 'not-configured' };

export interface PinGuardOptions {
  pinHash: string;
  maxFailures: number;
  /** First lockout; each further lockout doubles it, up to maxLockoutMs. */
  lockoutMs: number;
  maxLockoutMs: number;
}

export interface LockoutState {
  failures: number;
  lockouts: number;
  /** ms since the epoch; 0 when not locked. */
  lockedUntil: number;
}

/** Where the guard keeps its counts, so a restart neither lifts a lockout nor resets its escalation. */
export interface LockoutStore {
  load(): LockoutState | undefined;
  save(state: LockoutState): void;
}

/**
 * Checks technician PINs and locks the menu after `maxFailures` wrong PINs in a row, for
 * a delay that grows with each lockout. One guard per process, shared by the local menu
 * and the control socket, so a second shell cannot be used to keep guessing.
 */
export class PinGuard {
  private failures = 0;
  private lockouts = 0;
  private lockedUntil = 0;

  constructor(
    private readonly options: PinGuardOptions,
    private readonly clock: Clock,
    private readonly store?: LockoutStore,
  ) {
    const saved = store?.load();
    if (saved) ({ failures: this.failures, lockouts: this.lockouts, lockedUntil: this.lockedUntil } = saved);
  }

  private save(): void {
    this.store?.save({ failures: this.failures, lockouts: this.lockouts, lockedUntil: this.lockedUntil });
  }

  check(pin: string): LoginResult {
    if (!this.options.pinHash) return { ok: false, reason: 'not-configured' };
    const now = this.clock.now();
    if (now < this.lockedUntil) return { ok: false, reason: 'locked', lockedForMs: this.lockedUntil - now };
    if (verifyPin(pin, this.options.pinHash)) {
      if (this.failures > 0 || this.lockouts > 0) {
        this.failures = 0;
        this.lockouts = 0;
        this.save();
      }
      return { ok: true };
    }
    this.failures++;
    if (this.failures >= this.options.maxFailures) {
      const delay = Math.min(this.options.maxLockoutMs, this.options.lockoutMs * 2 ** this.lockouts);
      this.lockouts++;
      this.failures = 0;
      this.lockedUntil = now + delay;
      this.save();
      return { ok: false, reason: 'locked', lockedForMs: delay };
    }
    this.save();
    return { ok: false, reason: 'wrong-pin', attemptsLeft: this.options.maxFailures - this.failures };
  }
}
