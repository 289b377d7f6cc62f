/**
 * A template of the largest size docs/templates.md allows (10,000 steps) registers, whatever the
 * order its steps are written in. Validation used to be cubic for steps written root-last (a
 * chain of 1,000 took 23 s, of 3,000 over two minutes): 10,000 could not be registered at all.
 * Since migration 0040 it is linear (about 1 s for 10,000 here). The statement timeout is a
 * generous bound on "at all", not a speed target: speed is measured by hand (see 0040's notes).
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { TaskTemplate } from '../../sdk/src/protocol/index.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db.drop();
});

/** A chain of `n` steps; `rootLast`: each step depends on the one written after it. */
function chain(n: number, rootLast: boolean): TaskTemplate {
  return {
    namespace: 'template_size',
    name: rootLast ? 'root_last' : 'root_first',
    version: '1.0.0',
    steps: Array.from({ length: n }, (_, i) => {
      const dependency = rootLast ? (i < n - 1 ? `s${i + 1}` : undefined) : i > 0 ? `s${i - 1}` : undefined;
      return { name: `s${i}`, handler: 'h.step', ...(dependency === undefined ? {} : { dependencies: [dependency] }) };
    }),
  };
}

it.each([false, true])('registers a 10,000-step chain (written root-last: %s) and finds a cycle in one', { timeout: 120_000 }, async (rootLast) => {
  const client = await db.pool.connect();
  try {
    await client.query("SET statement_timeout = '60s'");
    const { rows } = await client.query<{ steps: number }>(
      'SELECT jsonb_array_length(tasker.validate_template($1) -> \'steps\') AS steps',
      [JSON.stringify(chain(10_000, rootLast))],
    );
    expect(rows[0]?.steps).toBe(10_000);
    const cyclic = chain(10_000, rootLast);
    // The root now depends on the far end of the chain: every step is on the cycle.
    cyclic.steps[rootLast ? 9_999 : 0]!.dependencies = [rootLast ? 's0' : 's9999'];
    await expect(client.query('SELECT tasker.validate_template($1)', [JSON.stringify(cyclic)])).rejects.toThrow(/dependency cycle: s0 depends on /);
  } finally {
    client.release();
  }
});
