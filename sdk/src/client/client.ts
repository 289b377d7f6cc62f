/**
 * The client: create tasks (checking the template's input schema first), read them, wait for
 * them (woken by LISTEN, never by polling), cancel and retry them. Every state change happens in
 * the SQL protocol; this class only adds the input-schema check and the waiting.
 */
import pg from 'pg';
import { InvalidConfigError } from '../errors.ts';
import { TemplateChangedError, UnknownTaskError, UnknownTemplateError } from '../protocol/errors.ts';
import {
  cancelTask,
  createTask,
  getTaskStatus,
  retryTask,
  templateInputSchema,
} from '../protocol/tasks.ts';
import { listTasks } from '../protocol/task-list.ts';
import type { CancelledTask, CreateTaskInput, CreatedTask, RetriedTask, TaskState } from '../protocol/types.ts';
import { validateContext } from '../template/index.ts';
import { timerDelay } from '../timer.ts';
import { ClientClosedError, TaskWaitTimeoutError } from './errors.ts';
import { settleWithin } from './settle-within.ts';
import { isTerminalTaskState, toTaskInfo, toTaskSummary, type TaskInfo, type TaskSummary } from './task-info.ts';
import { TaskStateListener } from './task-state-listener.ts';

/**
 * How long waitForTask gives each database call past the caller's deadline, so that a wait with
 * `timeoutMs: 0` still reads the task once, and a database that does not answer ends the wait
 * soon after the deadline instead of after the connection's own limits.
 */
const DATABASE_ANSWER_GRACE_MS = 1_000;

/** How long a template's input schema is reused before it is read again. */
const SCHEMA_CACHE_MS = 5_000;

/** Settings of a TaskerClient. */
export interface TaskerClientOptions {
  /** Default: the DATABASE_URL environment variable. */
  databaseUrl?: string;
  /** Connections for queries (the LISTEN connection for waitForTask is extra). Default 4. */
  poolSize?: number;
  /** Recorded as the actor of cancellations and retries. Default 'client'. */
  actor?: string;
}

/** Options of waitForTask. */
export interface WaitForTaskOptions {
  /** Give up after this many ms with TaskWaitTimeoutError. Default: wait as long as it takes. */
  timeoutMs?: number;
  /** Stop waiting when this signal aborts (rejects with its reason). */
  signal?: AbortSignal;
}

/** Which tasks listTasks returns; every filter is optional. */
export interface ListTasksOptions {
  namespace?: string;
  /** The template's name. */
  name?: string;
  states?: readonly TaskState[];
  /** Most tasks in the page, 1 to 500. Default 50. */
  limit?: number;
  /** The previous page's `nextCursor`. */
  cursor?: string;
}

/** A page of tasks, newest first. */
export interface TaskPage {
  tasks: TaskSummary[];
  /** Pass as `cursor` for the next page; null on the last one. */
  nextCursor: string | null;
}

/** Options of createTask beyond the task itself. */
export interface CreateTaskOptions {
  /** Check the context against the template's input_schema first. Default true. */
  validate?: boolean;
}

/**
 * Talks to the Tasker database on behalf of applications.
 *
 * @example
 * const client = new TaskerClient({ databaseUrl });
 * const { taskId } = await client.createTask({ namespace: 'shop', name: 'order', context: { id: 7 } });
 * const task = await client.waitForTask(taskId, { timeoutMs: 30_000 });
 * console.log(task.state, task.steps.map((s) => s.result));
 * await client.close();
 */
export class TaskerClient {
  private readonly pool: pg.Pool;
  private readonly listener: TaskStateListener;
  private readonly actor: string;
  private readonly schemas = new Map<string, { at: number; version: string; schema: unknown; definitionHash: string }>();
  private closed = false;

  constructor(options: TaskerClientOptions = {}) {
    const databaseUrl = options.databaseUrl ?? (typeof process === 'undefined' ? undefined : process.env.DATABASE_URL);
    if (databaseUrl === undefined || databaseUrl === '') {
      throw new InvalidConfigError('DATABASE_URL', '', 'a PostgreSQL URL (or pass databaseUrl to the TaskerClient)');
    }
    this.pool = new pg.Pool({ connectionString: databaseUrl, max: options.poolSize ?? 4, application_name: 'tasker-client' });
    // An idle connection that breaks must not crash the application; the next query reconnects.
    this.pool.on('error', () => {});
    this.listener = new TaskStateListener(databaseUrl);
    this.actor = options.actor ?? 'client';
  }

  /**
   * Creates a task: checks the context against the template's input_schema (InvalidContextError
   * listing every violation), then creates it with its steps and enqueues the root steps, in one
   * transaction, from the very definition whose schema was checked. With an idempotency key
   * already used for this template (any version), returns the existing task with `created: false`.
   */
  async createTask(input: CreateTaskInput, options: CreateTaskOptions = {}): Promise<CreatedTask> {
    this.ensureOpen();
    if (!(options.validate ?? true)) return createTask(this.pool, input);
    // The schema is cached for a few seconds; the database refuses a definition registered since
    // (a new latest version, or this one replaced), and then it is read again and checked anew.
    for (let fresh = false; ; fresh = true) {
      const template = await this.inputSchema(input.namespace, input.name, input.version, fresh);
      validateContext(
        template.schema as Parameters<typeof validateContext>[0],
        input.context ?? {},
        `${input.namespace}/${input.name}@${template.version}`,
      );
      try {
        return await createTask(this.pool, { ...input, definitionHash: template.definitionHash });
      } catch (error) {
        if (!(error instanceof TemplateChangedError) || fresh) throw error;
      }
    }
  }

  /** A task with all its steps (states, results, errors); null for an unknown id. */
  async getTask(taskId: string): Promise<TaskInfo | null> {
    this.ensureOpen();
    const status = await getTaskStatus(this.pool, taskId);
    return status === null ? null : toTaskInfo(status);
  }

  /** Tasks newest first (without their steps; getTask has them), filtered and paged. */
  async listTasks(options: ListTasksOptions = {}): Promise<TaskPage> {
    this.ensureOpen();
    const limit = options.limit ?? 50;
    if (!Number.isInteger(limit) || limit < 1 || limit > 500) {
      throw new RangeError(`listTasks: limit must be a whole number from 1 to 500, got ${limit}`);
    }
    const page = await listTasks(this.pool, {
      limit,
      ...(options.namespace === undefined ? {} : { namespace: options.namespace }),
      ...(options.name === undefined ? {} : { name: options.name }),
      ...(options.states === undefined ? {} : { states: options.states }),
      ...(options.cursor === undefined ? {} : { before: options.cursor }),
    });
    return { tasks: page.tasks.map(toTaskSummary), nextCursor: page.nextCursor };
  }

  /**
   * Resolves with the task once it is complete, error or cancelled. Woken by the database's
   * announcement on `tasker_task_state`, so it costs no polling; a missed announcement (lost
   * connection) makes it look again. Throws UnknownTaskError for an unknown id,
   * TaskWaitTimeoutError when `timeoutMs` runs out (a database that does not answer gets at most
   * DATABASE_ANSWER_GRACE_MS more),
   * the signal's reason when it aborts, and RangeError for a `timeoutMs` that is not a number ≥ 0.
   */
  async waitForTask(taskId: string, options: WaitForTaskOptions = {}): Promise<TaskInfo> {
    this.ensureOpen();
    const { timeoutMs, signal } = options;
    if (timeoutMs !== undefined && !(typeof timeoutMs === 'number' && timeoutMs >= 0)) {
      throw new RangeError(`waitForTask: timeoutMs must be a number of milliseconds, 0 or more (Infinity waits for ever), got ${String(timeoutMs)}`);
    }
    signal?.throwIfAborted();
    const deadline = timeoutMs === undefined || timeoutMs === Infinity ? undefined : Date.now() + timeoutMs;
    let lastState: TaskState | null = null;
    // The database may not answer at all (a dead network): every wait on it is bounded by the
    // caller's deadline and signal, not by the connection's own, longer, limits.
    // Each call still gets a moment to answer, so that `timeoutMs: 0` reads the task once.
    const bound = (): number | undefined => (deadline === undefined ? undefined : Math.max(deadline, Date.now() + DATABASE_ANSWER_GRACE_MS));
    const timedOut = (): TaskWaitTimeoutError => new TaskWaitTimeoutError(taskId, timeoutMs ?? 0, lastState);
    let wake: () => void = () => {};
    let woken = true;
    const subscribing = this.listener.subscribe((id) => {
      if (id === null || id === taskId) {
        woken = true;
        wake();
      }
    });
    let unsubscribe: () => void;
    try {
      unsubscribe = await settleWithin(subscribing, bound(), signal, timedOut);
    } catch (error) {
      // A LISTEN that gets in place after all must not keep this waiter subscribed.
      subscribing.then((late) => late(), () => {});
      throw error;
    }
    try {
      for (;;) {
        signal?.throwIfAborted();
        if (this.closed) throw new ClientClosedError();
        if (woken) {
          woken = false;
          const task = await settleWithin(this.getTask(taskId), bound(), signal, timedOut);
          if (task === null) {
            throw new UnknownTaskError('TASK_UNKNOWN', `unknown task ${taskId}`, 'TK005', { field: 'task_id', value: taskId });
          }
          if (isTerminalTaskState(task.state)) return task;
          lastState = task.state;
          if (deadline !== undefined && Date.now() >= deadline) throw timedOut();
        }
        await new Promise<void>((resolve) => {
          const done = (): void => {
            if (timer !== undefined) clearTimeout(timer);
            signal?.removeEventListener('abort', done);
            resolve();
          };
          const timer =
            deadline === undefined
              ? undefined
              : setTimeout(() => {
                  woken = true;
                  done();
                }, timerDelay(deadline - Date.now()));
          signal?.addEventListener('abort', done, { once: true });
          wake = done;
          if (woken) done();
        });
      }
    } finally {
      unsubscribe();
    }
  }

  /**
   * Cancels a task that has not finished: steps not started are cancelled, running handlers are
   * aborted through their signal. A finished task is left alone (`changed: false`).
   */
  async cancelTask(taskId: string, reason?: string): Promise<CancelledTask> {
    this.ensureOpen();
    return cancelTask(this.pool, taskId, { actor: this.actor, ...(reason === undefined ? {} : { reason }) });
  }

  /**
   * Gives a task in error another run: failed and cancelled steps start again with a fresh budget
   * of attempts (numbered on from their last), completed steps keep their results. Any other task is left alone (`changed: false`).
   */
  async retryTask(taskId: string): Promise<RetriedTask> {
    this.ensureOpen();
    return retryTask(this.pool, taskId, { actor: this.actor });
  }

  /** Closes the connections. Waiters still waiting reject with ClientClosedError. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.listener.close();
    await this.pool.end();
  }

  private ensureOpen(): void {
    if (this.closed) throw new ClientClosedError();
  }

  private async inputSchema(
    namespace: string,
    name: string,
    version: string | undefined,
    fresh: boolean,
  ): Promise<{ version: string; schema: unknown; definitionHash: string }> {
    const key = `${namespace}\u0000${name}\u0000${version ?? ''}`;
    const cached = this.schemas.get(key);
    if (!fresh && cached !== undefined && Date.now() - cached.at < SCHEMA_CACHE_MS) return cached;
    const found = await templateInputSchema(this.pool, namespace, name, version);
    if (found === null) {
      throw new UnknownTemplateError(
        'TEMPLATE_UNKNOWN',
        `unknown task template ${namespace}/${name}@${version ?? 'latest'}`,
        'TK003',
        { namespace, name, version: version ?? null },
      );
    }
    const entry = { at: Date.now(), version: found.version, schema: found.inputSchema, definitionHash: found.definitionHash };
    this.schemas.set(key, entry);
    return entry;
  }
}
