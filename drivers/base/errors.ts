/**
 * Every error a user can meet carries a stable `code`, so callers branch on the
 * code (and the decline catalog maps it to cashier text) instead of parsing messages.
 * Messages must never contain card data.
 */
export class PosError extends Error {
  readonly code: string;
  readonly details: Readonly<Record<string, unknown>>;

  constructor(code: string, message: string, details: Record<string, unknown> = {}, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
    this.details = details;
  }
}

export function isPosError(err: unknown): err is PosError {
  return err instanceof PosError;
}
