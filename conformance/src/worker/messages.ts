/**
 * What a conformance worker process and the runner say to each other. The worker writes events
 * to stdout as lines `@@cf <json>` (its logs go to stderr); the runner writes commands to its
 * stdin as JSON lines. Shared by both sides so they cannot drift apart.
 */
import type { WorkerCoreTuning } from '@tasker/sdk';
import type { BindingName, DeploymentMode } from '@tasker/sdk/binding';

/** Prefix of event lines on the worker's stdout. */
export const EVENT_PREFIX = '@@cf ';

/** Environment variable carrying the worker's {@link WorkerSpec} as JSON. */
export const WORKER_SPEC_ENV = 'TASKER_CONFORMANCE_WORKER';

/** What a worker process serves and how it is tuned. */
export interface WorkerSpec {
  namespaces: string[];
  concurrency: number;
  mode?: DeploymentMode;
  core?: WorkerCoreTuning;
}

/** Worker → runner. */
export type WorkerEvent =
  | { type: 'started'; workerId: string; runtime: string; binding: BindingName | null; pid: number; sabotage: string | null }
  | {
      type: 'report';
      namespace: string;
      taskId: string;
      stepName: string;
      attempt: number;
      delivery: number;
      outcome: string;
      /** `error.kind` of the report, null on success. */
      kind: string | null;
      /** What the database did with it; null when the report was not sent or failed. */
      accepted: boolean | null;
      reason: string | null;
    }
  | { type: 'stopped'; stats: { succeeded: number; retried: number; failed: number; rejected: number; abandoned: number } };

/** Runner → worker. */
export type WorkerCommand = { type: 'open'; key: string };
