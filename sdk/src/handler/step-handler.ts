/**
 * The two ways to write a handler — a class extending StepHandler, or a function passed to
 * defineHandler — and the one shape a worker runs, HandlerDefinition.
 */
import type { JsonObject, JsonValue } from '../protocol/types.ts';
import { InvalidHandlerNameError } from './errors.ts';
import type { StepContext } from './step-context.ts';

/** What a worker registers: a name (as templates write it in `handler:`) and the function to run. */
export interface HandlerDefinition {
  readonly name: string;
  call(ctx: StepContext): Promise<unknown> | unknown;
}

/**
 * Class style: `class Charge extends StepHandler { static handlerName = 'shop.charge'; async call(ctx) {...} }`
 * (handlerName defaults to the class name). A registry makes one instance per class, so keep
 * per-step state in local variables, not in fields.
 */
export abstract class StepHandler<
  TContext extends JsonObject = JsonObject,
  TDeps extends Record<string, JsonValue> = Record<string, JsonValue>,
  TResult = unknown,
> {
  /** The name templates use in `handler:`; the class name when not set. Not inherited by subclasses. */
  declare static handlerName?: string;

  /** Runs the step: return the result, `decide(...)` in a decision step or `fanOut(...)` in a batch step; throw to fail. */
  abstract call(ctx: StepContext<TContext, TDeps>): Promise<TResult> | TResult;
}

/**
 * A concrete StepHandler subclass with a no-argument constructor. (Handlers needing
 * constructor arguments are registered as instances, or written with defineHandler.)
 */
export type StepHandlerClass = (new () => StepHandler<JsonObject, Record<string, JsonValue>, unknown>) & {
  handlerName?: string;
};

/** Either style, as accepted by the registry: a definition, a StepHandler class, or a StepHandler instance. */
export type HandlerInput = HandlerDefinition | StepHandlerClass | StepHandler<JsonObject, Record<string, JsonValue>, unknown>;

// Same rule as the SQL template validation (migrations/0002_templates.sql, step handler), so
// every registered name can be written in a template.
const HANDLER_NAME = /^[A-Za-z_][A-Za-z0-9_.:/-]{0,127}$/;

/** Throws InvalidHandlerNameError unless `name` is a handler name a template can refer to. */
export function checkHandlerName(name: unknown): string {
  if (typeof name !== 'string' || name === '') {
    throw new InvalidHandlerNameError(String(name ?? ''), 'a handler name must be a non-empty string');
  }
  if (!HANDLER_NAME.test(name)) {
    throw new InvalidHandlerNameError(
      name,
      'a handler name is up to 128 letters, digits and _ . : / -, starting with a letter or _ (as in templates)',
    );
  }
  return name;
}

/**
 * Defines a handler from a name and a function (the function style; the class style extends
 * StepHandler).
 *
 * @example
 * export const charge = defineHandler<{ orderId: number }>('shop.charge', async (ctx) => {
 *   ctx.logger.info('charging', { orderId: ctx.context.orderId });
 *   return { charged: true };
 * });
 */
export function defineHandler<
  TContext extends JsonObject = JsonObject,
  TDeps extends Record<string, JsonValue> = Record<string, JsonValue>,
  TResult = unknown,
>(name: string, fn: (ctx: StepContext<TContext, TDeps>) => Promise<TResult> | TResult): HandlerDefinition {
  checkHandlerName(name);
  if (typeof fn !== 'function') throw new TypeError(`defineHandler("${name}"): the handler must be a function`);
  // The cast is the typed view the caller asked for; the worker builds the context untyped.
  return Object.freeze({ name, call: (ctx: StepContext) => fn(ctx as unknown as StepContext<TContext, TDeps>) });
}
