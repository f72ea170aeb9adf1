/** The lifecycle reducer, its derived table and the named predicates: see lifecycle/. */
export * from './lifecycle/reducer.js';
export * from './lifecycle/predicates.js';
export { lifecycleGuardSql, transitionKeys } from './lifecycle/guard-sql.js';
