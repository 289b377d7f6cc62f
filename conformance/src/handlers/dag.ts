/**
 * Handlers of the DAG-shaped scenarios (linear, diamond, fan-out, decision, many tasks). Each
 * result is computed from the step's own input and the results of the dependencies it was told
 * to expect, so a dependency result that is missing, stale or altered anywhere between the
 * database and the handler changes the result (or fails the step) and shows up in the trace.
 */
import { decide, defineHandler, type HandlerDefinition, type JsonObject, type JsonValue } from '@tasker/sdk';
import { booleanInput, numberInput, objectValue, stringList } from './inputs.ts';

/**
 * `cf.collect`: sum = own `value` + the sums of the dependencies named in `expects`; `visited`
 * lists every step upstream in order. With `optional: true` (joins after a decision) a missing
 * dependency is recorded as null instead of failing the step.
 */
export const collect: HandlerDefinition = defineHandler('cf.collect', (ctx) => {
  const optional = booleanInput(ctx.inputs, 'optional', false);
  let sum = numberInput(ctx.inputs, 'value', 0);
  const from: JsonObject = {};
  const visited: string[] = [];
  for (const name of stringList(ctx.inputs, 'expects')) {
    const raw: JsonValue | undefined = optional ? ctx.dependencyResults[name] : ctx.dependencyResult(name);
    if (raw === undefined) {
      from[name] = null;
      continue;
    }
    const dependency = objectValue(raw, `the result of "${name}"`);
    const dependencySum = dependency['sum'];
    if (typeof dependencySum !== 'number') throw new TypeError(`the result of "${name}" has no numeric sum`);
    from[name] = dependencySum;
    sum += dependencySum;
    for (const step of stringList(dependency, 'visited')) if (!visited.includes(step)) visited.push(step);
  }
  visited.push(ctx.stepName);
  return { sum, from, visited, attempt: ctx.attempt };
});

/** `cf.route` (a decision step): amounts over `threshold` go to `manual_review`, the rest to `auto_approve`. */
export const route: HandlerDefinition = defineHandler('cf.route', (ctx) => {
  const amount = ctx.context['amount'];
  if (typeof amount !== 'number') throw new TypeError('the task context has no numeric amount');
  const branch = amount > numberInput(ctx.inputs, 'threshold', 100) ? 'manual_review' : 'auto_approve';
  return decide([branch], { amount, branch, sum: amount });
});
