/**
 * Runs one scenario in one cell: carries out its script (by default: create the tasks, wait for
 * them), then reads its trace and observations. Whatever fails — a wait that times out, a worker
 * that dies — is recorded as the run's error, and the trace is still read, so the report shows
 * where things stood.
 */
import type { TaskerClient } from '@tasker/sdk';
import type pg from 'pg';
import { gateKey } from '../handlers/gates.ts';
import type { Action, Scenario, StepRef } from '../scenario.ts';
import type { Cell } from './cells.ts';
import { observe, settleReports, type ScenarioWorkers } from './observations.ts';
import { readTrace, type CreatedTasks, type ScenarioTrace } from './trace.ts';
import { startWorkerProcess, type WorkerProcess } from './worker-process.ts';

const DEFAULT_SCRIPT: readonly Action[] = [{ do: 'create' }, { do: 'waitForTasks' }];
const POLL_MS = 50;
/** Tasks created at once (each is one transaction). */
const CREATE_CONCURRENCY = 16;

/** What a scenario run needs from its cell. */
export interface ScenarioCellContext {
  cell: Cell;
  pool: pg.Pool;
  client: TaskerClient;
  databaseUrl: string;
  logDir: string;
  /** The cell's main worker; serves every scenario without workers of its own. */
  main: WorkerProcess | undefined;
  /** TASKER_CONFORMANCE_SABOTAGE for this cell's workers, if any. */
  sabotage: string | undefined;
}

/** The outcome of one scenario in one cell. */
export interface ScenarioRun {
  trace: ScenarioTrace | null;
  /** Why the run did not get through its script, if it did not. */
  error: string | null;
  timeMs: number;
}

export async function runScenario(scenario: Scenario, context: ScenarioCellContext): Promise<ScenarioRun> {
  const started = performance.now();
  const deadline = Date.now() + (scenario.timeoutMs ?? 60_000);
  const tasks: CreatedTasks = new Map();
  const ownWorkers = scenario.workers !== undefined;
  const workers: ScenarioWorkers = {
    namespace: scenario.name,
    processes: new Map(ownWorkers || context.main === undefined ? [] : [['main', context.main]]),
  };
  if (!ownWorkers && context.main === undefined) return { trace: null, error: 'the cell has no main worker', timeMs: 0 };
  const run = new ScriptRun(scenario, context, tasks, workers, deadline);
  let error: string | null = null;
  try {
    for (const action of scenario.script ?? DEFAULT_SCRIPT) await run.perform(action);
    await settleReports(context.pool, tasks, workers, Math.max(1_000, deadline - Date.now()));
  } catch (caught) {
    error = caught instanceof Error ? caught.message : String(caught);
  }
  // Scenario workers end here, so that their exits can be observed; a clean drain exits 0.
  for (const [role, proc] of workers.processes) if (role !== 'main') await proc.stop();
  let trace: ScenarioTrace | null = null;
  try {
    trace = await readTrace(context.pool, tasks);
    trace.observations = await observe(scenario.observe ?? [], context.pool, tasks, workers);
  } catch (caught) {
    error ??= `reading the trace failed: ${caught instanceof Error ? caught.message : String(caught)}`;
  }
  return { trace, error, timeMs: Math.round(performance.now() - started) };
}

/** The state of one scenario's script as it runs. */
class ScriptRun {
  constructor(
    private readonly scenario: Scenario,
    private readonly context: ScenarioCellContext,
    private readonly tasks: CreatedTasks,
    private readonly workers: ScenarioWorkers,
    private readonly deadline: number,
  ) {}

  async perform(action: Action): Promise<void> {
    switch (action.do) {
      case 'create':
        return this.create();
      case 'waitForTasks':
        return this.waitForTasks();
      case 'waitForStep':
        return this.waitForStep(action, action.state, action.claimedBy);
      case 'startWorker':
        return this.startWorker(action.worker);
      case 'kill':
        await this.worker(action.worker).kill();
        return;
      case 'openGate':
        this.worker(action.worker).send({ type: 'open', key: gateKey(this.taskId(action.task), action.step) });
        return;
      case 'cancel':
        await this.context.client.cancelTask(this.taskId(action.task), 'cancelled by the conformance scenario');
        return;
      case 'sendRaw':
        for (const message of action.messages) {
          await this.context.pool.query('SELECT pgmq.send($1, $2::jsonb)', [`worker_${this.scenario.name}_queue`, JSON.stringify(message)]);
        }
        return;
      case 'waitForReport': {
        const taskId = this.taskId(action.task);
        await this.worker(action.worker).until(
          () => this.worker(action.worker).reports.some((r) => r.taskId === taskId && r.stepName === action.step && r.attempt === action.attempt),
          `its report of ${action.task}/${action.step} attempt ${action.attempt}`,
          this.deadline,
        );
        return;
      }
    }
  }

  private async create(): Promise<void> {
    const { client } = this.context;
    for (const spec of this.scenario.tasks) {
      const ids: string[] = new Array<string>(spec.count ?? 1);
      let next = 0;
      const createOne = async (): Promise<void> => {
        while (next < ids.length) {
          const index = next;
          next += 1;
          const created = await client.createTask({
            namespace: this.scenario.template.namespace,
            name: this.scenario.template.name,
            ...(spec.context === undefined ? {} : { context: spec.context }),
          });
          ids[index] = created.taskId;
        }
      };
      await Promise.all(Array.from({ length: Math.min(CREATE_CONCURRENCY, ids.length) }, createOne));
      this.tasks.set(spec.label, ids);
    }
  }

  private async waitForTasks(): Promise<void> {
    const ids = [...this.tasks.values()].flat();
    await this.poll('every task to finish', async () => {
      const { rows } = await this.context.pool.query<{ state: string; count: string }>(
        `SELECT state, count(*)::text AS count FROM tasker.tasks WHERE task_id = ANY($1::uuid[]) GROUP BY state ORDER BY state`,
        [ids],
      );
      const open = rows.filter((row) => !['complete', 'error', 'cancelled'].includes(row.state));
      return open.length === 0 ? true : rows.map((row) => `${row.count} ${row.state}`).join(', ');
    });
  }

  private async waitForStep(ref: StepRef, state: string, claimedBy: string | undefined): Promise<void> {
    const taskId = this.taskId(ref.task);
    const holder = claimedBy === undefined ? undefined : this.worker(claimedBy).workerId;
    await this.poll(`${ref.task}/${ref.step} to be ${state}${claimedBy === undefined ? '' : ` in the ${claimedBy} worker`}`, async () => {
      const { rows } = await this.context.pool.query<{ state: string; claimed_by: string | null }>(
        'SELECT state, claimed_by FROM tasker.workflow_steps WHERE task_id = $1 AND name = $2',
        [taskId, ref.step],
      );
      const row = rows[0];
      if (row === undefined) return `no step named ${ref.step}`;
      return row.state === state && (holder === undefined || row.claimed_by === holder)
        ? true
        : `it is ${row.state}, held by ${row.claimed_by ?? 'nobody'}`;
    });
  }

  private async startWorker(role: string): Promise<void> {
    const spec = this.scenario.workers?.find((worker) => worker.id === role);
    if (spec === undefined) throw new Error(`scenario ${this.scenario.name} has no worker named ${role}`);
    const proc = await startWorkerProcess({
      cell: this.context.cell,
      role: `${this.scenario.name}-${role}`,
      spec: {
        namespaces: [this.scenario.name],
        concurrency: spec.concurrency ?? 4,
        ...(spec.core === undefined ? {} : { core: spec.core }),
      },
      databaseUrl: this.context.databaseUrl,
      logDir: this.context.logDir,
      ...(this.context.sabotage === undefined ? {} : { sabotage: this.context.sabotage }),
      startTimeoutMs: Math.max(1_000, this.deadline - Date.now()),
    });
    this.workers.processes.set(role, proc);
  }

  private worker(role: string): WorkerProcess {
    const proc = this.workers.processes.get(role);
    if (proc === undefined) throw new Error(`no ${role} worker is running in scenario ${this.scenario.name}`);
    return proc;
  }

  private taskId(label: string): string {
    const id = this.tasks.get(label)?.[0];
    if (id === undefined) throw new Error(`scenario ${this.scenario.name} has created no task labelled ${label}`);
    return id;
  }

  /**
   * Calls `check` every POLL_MS until it returns true; a string describes the current state for
   * the timeout message. Fails at once when a worker this scenario depends on has died.
   */
  private async poll(what: string, check: () => Promise<true | string>): Promise<void> {
    for (;;) {
      const state = await check();
      if (state === true) return;
      const dead = [...this.workers.processes].find(([role, proc]) => proc.exit !== undefined && role === 'main');
      if (dead !== undefined) throw new Error(`the main worker of ${this.context.cell.id} exited (${String(dead[1].exit)}) while waiting for ${what}; see ${dead[1].logFile}`);
      if (Date.now() > this.deadline) throw new Error(`timed out waiting for ${what}: ${state}`);
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
  }
}
