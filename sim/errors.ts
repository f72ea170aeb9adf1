/**
 * The simulators' own typed error. A simulator shares no code with the product it tests
 * (docs/protocols), so it does not borrow the product's error class either: a test that
 * catches a product error can never be satisfied by a simulator's.
 */
export class SimError extends Error {
  readonly code: string;
  readonly details: Readonly<Record<string, unknown>>;

  constructor(code: string, message: string, details: Record<string, unknown> = {}) {
    super(message);
    this.name = new.target.name;
    this.code = code;
    this.details = details;
  }
}
