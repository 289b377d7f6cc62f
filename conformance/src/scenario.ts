/**
 * What a conformance scenario is: data the runner interprets the same way in every runtime ×
 * binding cell. A template, the tasks to create, an optional script of actions (for the
 * scenarios that need choreography: kill a worker, cancel a task, open a gate), what to observe
 * beyond the tasks' final states, and the expectations the trace must meet.
 */
import type { JsonObject, JsonValue, StepState, TaskTemplate, WorkerCoreTuning } from '@tasker/sdk';

/** Tasks created from the scenario's template. */
export interface TaskSpec {
  /** Names the task (or group of identical tasks) in the trace. */
  label: string;
  /** How many identical tasks to create at once. Default 1. */
  count?: number;
  context?: JsonObject;
}

/**
 * A worker process the scenario starts itself (on the cell's runtime and binding), besides the
 * cell's main worker. Used where a step must be claimed by one particular worker first.
 */
export interface ScenarioWorker {
  id: string;
  concurrency?: number;
  core?: WorkerCoreTuning;
}

/** Names one step of one task: the task by its label (the first task of a group). */
export interface StepRef {
  task: string;
  step: string;
}

/** One thing the runner does; scenarios without a script get `create` then `waitForTasks`. */
export type Action =
  /** Creates every task of the scenario, all at once. */
  | { do: 'create' }
  /** Waits until every task has finished (complete, error or cancelled). */
  | { do: 'waitForTasks' }
  /** Waits until a step reaches a state; with `claimedBy`, also that this scenario worker holds it. */
  | ({ do: 'waitForStep'; state: StepState; claimedBy?: string } & StepRef)
  /** Starts one of the scenario's workers and waits until it is running. */
  | { do: 'startWorker'; worker: string }
  /** SIGKILL: the worker dies at once, mid-step, reporting nothing. */
  | { do: 'kill'; worker: string }
  /** Lets the gate handler of a step return, in one worker process (`main` for the cell's worker). */
  | ({ do: 'openGate'; worker: string } & StepRef)
  /** Cancels a task through the client. */
  | { do: 'cancel'; task: string }
  /** Writes messages straight into the scenario's queue with pgmq.send, bypassing the protocol. */
  | { do: 'sendRaw'; messages: JsonValue[] }
  /** Waits until a worker has reported a step (whether or not the report was accepted). */
  | ({ do: 'waitForReport'; worker: string; attempt: number } & StepRef);

/** Facts beyond the tasks' states that a scenario records in its trace. */
export type Observation =
  /** Messages left in the scenario's queue, and the archived messages that never named a step. */
  | 'queue'
  /** Every report the scenario's workers sent (attempt, delivery, outcome, error kind) and whether the database accepted it. */
  | 'reports'
  /** How each scenario worker process ended: exit code or signal. */
  | 'workerExits';

/** A conformance scenario. */
export interface Scenario {
  /** Also the namespace: `^[a-z][a-z0-9_]{0,33}$`. */
  name: string;
  /** One sentence: what the scenario proves. */
  description: string;
  template: TaskTemplate;
  tasks: TaskSpec[];
  /** Workers the scenario starts itself; when present the cell's main worker does not serve it. */
  workers?: ScenarioWorker[];
  script?: Action[];
  observe?: Observation[];
  /** A partial trace: every field given must equal the trace's (objects compare key by key). */
  expect: JsonObject;
  /** How long the whole scenario may take in one cell. Default 60 s. */
  timeoutMs?: number;
}
