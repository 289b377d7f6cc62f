/**
 * Every scenario of the matrix, in the order they run in each cell. Scenarios with workers of
 * their own (worker_killed, lease_lapse) come last: they start and stop processes and take a few
 * seconds of lease expiry each.
 */
import type { Scenario } from '../scenario.ts';
import { awkwardJson } from './awkward-json.ts';
import { batchFanOut } from './batch-fan-out.ts';
import { cancellation } from './cancellation.ts';
import { decision } from './decision.ts';
import { diamond } from './diamond.ts';
import { largePayloads } from './large-payloads.ts';
import { leaseLapse } from './lease-lapse.ts';
import { linear } from './linear.ts';
import { manyTasks } from './many-tasks.ts';
import { permanentFailure } from './permanent-failure.ts';
import { poisonMessage } from './poison-message.ts';
import { retry } from './retry.ts';
import { timeouts } from './timeouts.ts';
import { wideFanOut } from './wide-fan-out.ts';
import { workerKilled } from './worker-killed.ts';

export const SCENARIOS: readonly Scenario[] = [
  linear,
  diamond,
  wideFanOut,
  batchFanOut,
  decision,
  retry,
  permanentFailure,
  timeouts,
  cancellation,
  largePayloads,
  awkwardJson,
  manyTasks,
  poisonMessage,
  workerKilled,
  leaseLapse,
];
