/**
 * The handler registry: the handlers a worker can run, by name. Built once when the worker
 * starts, so every naming mistake (duplicates, empty or impossible names, a class that cannot be
 * constructed) surfaces then, not when the first step arrives.
 */
import { DuplicateHandlerError, InvalidHandlerError } from './errors.ts';
import type { StepContext } from './step-context.ts';
import { checkHandlerName, StepHandler, type HandlerDefinition, type HandlerInput, type StepHandlerClass } from './step-handler.ts';

/** The handlers of a worker, by name. Duplicate names throw DuplicateHandlerError naming it. */
export class HandlerRegistry {
  readonly #handlers = new Map<string, HandlerDefinition>();

  constructor(handlers: readonly HandlerInput[]) {
    for (const input of handlers) {
      const definition = toHandlerDefinition(input);
      if (this.#handlers.has(definition.name)) throw new DuplicateHandlerError(definition.name);
      this.#handlers.set(definition.name, definition);
    }
  }

  /** The handler registered under `name`, if any. */
  get(name: string): HandlerDefinition | undefined {
    return this.#handlers.get(name);
  }

  /** Every registered name, sorted. */
  names(): string[] {
    return [...this.#handlers.keys()].sort();
  }
}

/**
 * Turns either handler style into the definition a worker runs. A class is instantiated once;
 * its name is its own static `handlerName` (an inherited one would make every subclass collide
 * with its parent) or else the class name.
 */
export function toHandlerDefinition(input: HandlerInput): HandlerDefinition {
  if (typeof input === 'function') return fromClass(input as StepHandlerClass);
  if (input instanceof StepHandler) return fromInstance(input);
  if (typeof input === 'object' && input !== null && typeof (input as HandlerDefinition).call === 'function') {
    const { name } = input as HandlerDefinition;
    checkHandlerName(name);
    return input as HandlerDefinition;
  }
  throw new InvalidHandlerError(
    `cannot register ${input === null ? 'null' : typeof input} as a handler: expected defineHandler(...), a StepHandler subclass or an instance of one`,
  );
}

function fromClass(cls: StepHandlerClass): HandlerDefinition {
  if (!(cls.prototype instanceof StepHandler)) {
    throw new InvalidHandlerError(`cannot register ${cls.name || 'an anonymous function'} as a handler: a class must extend StepHandler`);
  }
  const name = checkHandlerName(ownHandlerName(cls));
  let instance: StepHandler;
  try {
    instance = new cls();
  } catch (error) {
    throw new InvalidHandlerError(
      `handler class ${cls.name} (${name}) could not be constructed without arguments: ${error instanceof Error ? error.message : String(error)}; register an instance instead`,
    );
  }
  return Object.freeze({ name, call: (ctx: StepContext) => instance.call(ctx) });
}

function fromInstance(instance: StepHandler): HandlerDefinition {
  const cls = instance.constructor as StepHandlerClass;
  const name = checkHandlerName(ownHandlerName(cls));
  return Object.freeze({ name, call: (ctx: StepContext) => instance.call(ctx) });
}

function ownHandlerName(cls: StepHandlerClass): unknown {
  return Object.hasOwn(cls, 'handlerName') ? cls.handlerName : cls.name;
}
