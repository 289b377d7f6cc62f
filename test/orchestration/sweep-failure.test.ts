/**
 * A sweep pass runs tasker.sweep_task_timeouts and then tasker.sweep_expired_leases as separate
 * committed calls. When a later call fails (connection lost, statement timeout) what the earlier
 * ones committed is still counted (tasker_tasks_timed_out_total), logged ("task timed out") and
 * passed to onSweep: the next pass will not see those tasks again, since they are finished.
 *
 * The failure of the lease sweep is injected by renaming its SQL function for one pass.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { LogRecord } from '../../sdk/src/handler/index.ts';
import { Orchestrator } from '../../sdk/src/orchestration/index.ts';
import { createTask, registerTemplate } from '../../sdk/src/protocol/index.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { single } from '../support/templates.ts';

const NS = 'sweep_fail_ns';
let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase();
  await registerTemplate(db.pool, single(NS));
});

afterAll(async () => {
  await db.drop();
});

it('a task the sweeper timed out is counted and logged even if the rest of the pass fails', async () => {
  const logs: LogRecord[] = [];
  const swept: unknown[] = [];
  const orchestrator = new Orchestrator({
    databaseUrl: db.url,
    deploymentMode: 'no-migrate',
    handleSignals: false,
    mode: 'PollingOnly',
    sweepIntervalMs: 3_600_000, // only the pass at start, then the manual ones below
    web: false,
    grpc: false,
    logWriter: (record) => logs.push(record),
    onSweep: (result) => swept.push(result),
  });
  await orchestrator.start();
  try {
    await new Promise((resolve) => setTimeout(resolve, 300)); // the pass at start is done
    const { taskId } = await createTask(db.pool, { namespace: NS, name: 'single', timeoutMs: 1 });
    await new Promise((resolve) => setTimeout(resolve, 50));

    await db.pool.query('ALTER FUNCTION tasker.sweep_expired_leases(int, text) RENAME TO sweep_expired_leases_off');
    try {
      await expect(orchestrator.sweep()).rejects.toThrow();
    } finally {
      await db.pool.query('ALTER FUNCTION tasker.sweep_expired_leases_off(int, text) RENAME TO sweep_expired_leases');
    }
    await orchestrator.sweep();

    const { rows } = await db.pool.query<{ state: string }>('SELECT state FROM tasker.tasks WHERE task_id = $1', [taskId]);
    expect(rows[0]?.state, 'the failed pass did time the task out').toBe('error');
    expect({
      timedOutTasks: orchestrator.stats().timedOutTasks,
      loggedTimeouts: logs.filter((record) => record.message === 'task timed out').length,
      onSweepCalls: swept.length,
    }).toEqual({ timedOutTasks: 1, loggedTimeouts: 1, onSweepCalls: 1 });
  } finally {
    await orchestrator.stop();
  }
});
