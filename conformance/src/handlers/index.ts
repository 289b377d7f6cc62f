/** Every handler the conformance scenarios use, as one worker process registers them. */
import type { HandlerDefinition } from '@tasker/sdk';
import { gate, timeoutHonour, timeoutIgnore } from './aborts.ts';
import { merge, split, square } from './batch.ts';
import { collect, route } from './dag.ts';
import { work } from './fleet.ts';
import type { GateBook } from './gates.ts';
import { fail, flaky } from './outcomes.ts';
import { awkwardEcho, awkwardVerify, bigCheck, bigMake } from './payloads.ts';

/** The handlers of one worker process; gates are per process, opened by the runner. */
export function conformanceHandlers(gates: GateBook): HandlerDefinition[] {
  return [collect, route, flaky, fail, gate(gates), timeoutHonour, timeoutIgnore, work, bigMake, bigCheck, awkwardEcho, awkwardVerify, split, square, merge];
}

export { GateBook, gateKey } from './gates.ts';
