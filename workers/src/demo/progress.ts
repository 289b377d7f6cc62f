/**
 * The live progress line: task and step states of the demo's tasks, read once per interval. On a
 * terminal it rewrites one line; elsewhere it prints a line whenever the figures change.
 */
import type pg from 'pg';

interface Counts {
  tasks: Record<string, number>;
  steps: Record<string, number>;
}

async function readCounts(pool: pg.Pool, taskIds: readonly string[]): Promise<Counts> {
  const { rows } = await pool.query<{ kind: string; state: string; n: number }>(
    `SELECT 'task' AS kind, state, count(*)::int AS n FROM tasker.tasks WHERE task_id = ANY($1::uuid[]) GROUP BY state
     UNION ALL
     SELECT 'step', state, count(*)::int FROM tasker.workflow_steps WHERE task_id = ANY($1::uuid[]) GROUP BY state`,
    [taskIds],
  );
  const counts: Counts = { tasks: {}, steps: {} };
  for (const row of rows) (row.kind === 'task' ? counts.tasks : counts.steps)[row.state] = row.n;
  return counts;
}

function describe(counts: Counts, total: number, elapsedMs: number): string {
  const done = (counts.tasks['complete'] ?? 0) + (counts.tasks['error'] ?? 0) + (counts.tasks['cancelled'] ?? 0);
  const steps = Object.entries(counts.steps)
    .sort()
    .map(([state, n]) => `${state} ${n}`)
    .join(', ');
  return `[PROGRESS] ${(elapsedMs / 1000).toFixed(1)} s  tasks finished ${done}/${total}  steps: ${steps}`;
}

/** Shows progress until the returned stop function is called. */
export function showProgress(pool: pg.Pool, taskIds: readonly string[], intervalMs = 250): () => Promise<void> {
  const started = Date.now();
  const tty = process.stdout.isTTY === true;
  let last = '';
  let stopped = false;
  const tick = async (): Promise<void> => {
    const line = describe(await readCounts(pool, taskIds), taskIds.length, Date.now() - started);
    const figures = line.replace(/^\[PROGRESS\] [\d.]+ s {2}/, '');
    if (tty) process.stdout.write(`\r\x1b[2K${line}`);
    else if (figures !== last) console.log(line);
    last = figures;
  };
  const loop = (async () => {
    while (!stopped) {
      await tick().catch(() => {});
      await new Promise((resolve) => setTimeout(resolve, intervalMs));
    }
    await tick().catch(() => {});
    if (tty) process.stdout.write('\n');
  })();
  return async () => {
    stopped = true;
    await loop;
  };
}
