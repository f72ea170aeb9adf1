import { TRANSITIONS, TXN_STATES, TXN_TYPES } from './reducer.js';

const quote = (s: string) => `'${s}'`;

/** Every allowed change as `type:from>to`, the key the database guard compares against. */
export function transitionKeys(): string[] {
  const keys: string[] = [];
  for (const type of TXN_TYPES) {
    for (const from of TXN_STATES) for (const next of TRANSITIONS[type][from]) keys.push(`${type}:${from}>${next}`);
  }
  return keys;
}

/**
 * The database's copy of the lifecycle. The insert trigger stands in for a CHECK on
 * `transactions.state` (adding one would rebuild the table under its foreign keys): only a
 * state the reducer knows can be stored. An update of `state` must be a transition the
 * reducer allows for the row's type. Generated from the reducer, so the two cannot drift; a
 * test compares the installed triggers with this text, so changing the table without a
 * migration that reinstalls them fails.
 *
 * The update trigger looks the change up in one string of `,key,` entries rather than an
 * `IN (...)` list: SQLite built a temporary index of the list on every state change, half the
 * cost of a payment's UPDATE, paid at each step of every sale and every accepted advice. Keys
 * are names and `:` `>` only, so `,key,` matches a whole key and nothing else.
 */
export function lifecycleGuardSql(): string {
  const states = TXN_STATES.map(quote).join(', ');
  const keys = quote(`,${transitionKeys().join(',')},`);
  return `
  CREATE TRIGGER transactions_state_insert BEFORE INSERT ON transactions
    WHEN NEW.state IS NULL OR NEW.state NOT IN (${states})
    BEGIN SELECT RAISE(ABORT, 'unknown transaction state'); END;
  CREATE TRIGGER transactions_state_transition BEFORE UPDATE OF state ON transactions
    WHEN NEW.state IS NOT OLD.state
      AND instr(${keys}, ',' || OLD.type || ':' || OLD.state || '>' || NEW.state || ',') = 0
    BEGIN SELECT RAISE(ABORT, 'transition not allowed by the lifecycle'); END;
  `;
}
