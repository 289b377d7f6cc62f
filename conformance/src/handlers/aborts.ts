/**
 * Handlers that wait: on a gate the runner opens (`cf.gate`), or past their timeout, either
 * honouring the abort signal (`cf.timeout_honour`) or ignoring it (`cf.timeout_ignore`). They let
 * the runner put a step exactly where a scenario needs it: running when a worker is killed, a
 * task cancelled or a lease lost.
 */
import { defineHandler, type HandlerDefinition } from '@tasker/sdk';
import { gateKey, type GateBook } from './gates.ts';
import { numberInput } from './inputs.ts';

/**
 * `cf.gate`: waits until the runner opens this step's gate in this process; honours the signal.
 * Its result has a `sum` of 0 so that a `cf.collect` step can follow it.
 */
export function gate(gates: GateBook): HandlerDefinition {
  return defineHandler('cf.gate', async (ctx) => {
    await gates.wait(gateKey(ctx.taskId, ctx.stepName), ctx.signal);
    return { gate: 'opened', attempt: ctx.attempt, sum: 0 };
  });
}

/**
 * `cf.timeout_honour`: before attempt `inputs.passFrom` (default 2) it waits for its signal and
 * throws the signal's reason, as a well-behaved handler does; from then on it returns at once.
 * With `inputs.giveUpMs` it stops waiting after that long and returns `{ late: true }`: a timeout
 * that fires too late (or never) then shows as a success in the trace.
 */
export const timeoutHonour: HandlerDefinition = defineHandler('cf.timeout_honour', async (ctx) => {
  if (ctx.attempt >= numberInput(ctx.inputs, 'passFrom', 2)) return { attempt: ctx.attempt };
  const giveUpMs = numberInput(ctx.inputs, 'giveUpMs', 0);
  await new Promise<void>((resolve, reject) => {
    if (ctx.signal.aborted) reject(ctx.signal.reason);
    ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason), { once: true });
    if (giveUpMs > 0) setTimeout(resolve, giveUpMs);
  });
  return { late: true, attempt: ctx.attempt };
});

/**
 * `cf.timeout_ignore`: before attempt `inputs.passFrom` (default 2) it sleeps `inputs.sleepMs`
 * without looking at its signal and then returns a result the worker must discard; from then on
 * it returns at once.
 */
export const timeoutIgnore: HandlerDefinition = defineHandler('cf.timeout_ignore', async (ctx) => {
  if (ctx.attempt >= numberInput(ctx.inputs, 'passFrom', 2)) return { attempt: ctx.attempt };
  await new Promise((resolve) => setTimeout(resolve, numberInput(ctx.inputs, 'sleepMs', 2_000)));
  return { late: true, attempt: ctx.attempt };
});

