/**
 * Decisions: what a decision step's handler returns to choose which of its successors run.
 * A decision is branded with a registered symbol, so a result that merely looks like one
 * (`{ activate: [...] }` from an API response, say) is stored as a result, never obeyed — and
 * the brand survives two copies of the SDK being loaded, which `instanceof` would not.
 */
import type { JsonValue } from '../protocol/types.ts';

const DECISION_BRAND = Symbol.for('@tasker/sdk:decision');

/** What a decision step returns: the successors to run, and the step's result. */
export interface Decision {
  /** Names of the successor steps to run; the step's other successors end as skipped. */
  readonly activate: readonly string[];
  /** The step's result, stored like any step result. */
  readonly result: JsonValue;
}

/**
 * Decision steps: `return decide(['approve_manually'], { score: 12 })` runs the named successors;
 * the others end as skipped. An empty list skips them all.
 *
 * @throws TypeError when `activate` is not an array of step names
 */
export function decide(activate: readonly string[], result: JsonValue = null): Decision {
  if (!Array.isArray(activate) || activate.some((name) => typeof name !== 'string' || name === '')) {
    throw new TypeError(`decide(activate): activate must be an array of step names, got ${describe(activate)}`);
  }
  const decision = { activate: Object.freeze([...new Set(activate)]), result };
  Object.defineProperty(decision, DECISION_BRAND, { value: true });
  return Object.freeze(decision);
}

/** True for values made by {@link decide}. */
export function isDecision(value: unknown): value is Decision {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[DECISION_BRAND] === true;
}

function describe(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map((v) => (typeof v === 'string' ? JSON.stringify(v) : typeof v)).join(', ')}]`;
  return value === null ? 'null' : typeof value;
}
