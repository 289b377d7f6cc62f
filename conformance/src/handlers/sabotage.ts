/**
 * The sabotage switch, for proving that the suite catches a broken binding: with
 * TASKER_CONFORMANCE_SABOTAGE=drop-dependency-result in a worker's environment (the runner sets
 * it for one cell only), every handler sees its step's dependency results minus one (the last by
 * name), as if the binding had lost it between the database and the handler. Lives in the
 * conformance harness only; nothing in the SDK knows about it.
 */
import { UnknownDependencyError, type HandlerDefinition, type JsonValue, type StepContext } from '@tasker/sdk';

/** The sabotage kinds the harness implements. */
export const SABOTAGE_KINDS = ['drop-dependency-result'] as const;
export type SabotageKind = (typeof SABOTAGE_KINDS)[number];

/** Parses the worker-side switch; undefined when off, throws on an unknown kind (a typo must not pass silently). */
export function workerSabotage(value: string | undefined): SabotageKind | undefined {
  if (value === undefined || value === '') return undefined;
  const kind = SABOTAGE_KINDS.find((known) => known === value);
  if (kind === undefined) throw new Error(`TASKER_CONFORMANCE_SABOTAGE=${value}: unknown; known: ${SABOTAGE_KINDS.join(', ')}`);
  return kind;
}

/** Wraps a handler so that it never sees the last (by name) of its dependency results. */
export function dropDependencyResult(handler: HandlerDefinition): HandlerDefinition {
  return Object.freeze({
    name: handler.name,
    call: (ctx: StepContext) => {
      const names = Object.keys(ctx.dependencyResults).sort();
      const dropped = names.pop();
      if (dropped === undefined) return handler.call(ctx);
      const kept: Record<string, JsonValue> = {};
      for (const name of names) kept[name] = ctx.dependencyResults[name] as JsonValue;
      const sabotaged: StepContext = Object.freeze({
        ...ctx,
        dependencyResults: Object.freeze(kept),
        dependencyResult(stepName: string): JsonValue {
          if (!Object.hasOwn(kept, stepName)) throw new UnknownDependencyError(ctx.stepName, stepName, names, ctx.dependencyNames);
          return kept[stepName] as JsonValue;
        },
      });
      return handler.call(sabotaged);
    },
  });
}
