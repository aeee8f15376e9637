// The linearizability checker's public surface, for the Jepsen-style runner and for re-checking
// saved histories.
export * from './history.js';
export * from './history-file.js';
export * from './kv-check.js';
export type { Model, StepResult, TimedOp } from './model.js';
export { type RegisterOp, type RegisterState, registerModel, showValue } from './register-model.js';
export { renderCheckResult, renderKeyFailure, renderOps, showOp } from './render.js';
export { checkOperations, type SearchBudget, type SearchResult, type Witness } from './search.js';
