import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  InvalidNamespaceError,
  InvalidTemplateError,
  registerTemplate,
  validateTemplate,
  type TaskTemplate,
} from '../../sdk/src/protocol/index.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { diamond, template } from '../support/templates.ts';

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase();
});

afterAll(async () => {
  await db.drop();
});

async function queues(): Promise<string[]> {
  const { rows } = await db.pool.query<{ queue_name: string }>('SELECT queue_name FROM pgmq.list_queues()');
  return rows.map((r) => r.queue_name).sort();
}

async function expectRejected(tpl: unknown, pattern: RegExp, field?: string): Promise<InvalidTemplateError> {
  const error = await registerTemplate(db.pool, tpl as TaskTemplate).then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(InvalidTemplateError);
  const typed = error as InvalidTemplateError;
  expect(typed.message).toMatch(pattern);
  if (field !== undefined) expect(typed.field).toBe(field);
  return typed;
}

describe('register_template', () => {
  it('registers a template, creates its namespace queue, and is idempotent', async () => {
    const first = await registerTemplate(db.pool, diamond('tpl_ok'));
    expect(first).toMatchObject({ namespace: 'tpl_ok', name: 'diamond', version: '1.0.0', changed: true });
    expect(await queues()).toContain('worker_tpl_ok_queue');

    const again = await registerTemplate(db.pool, diamond('tpl_ok'));
    expect(again).toEqual({ ...first, changed: false });

    const { rows } = await db.pool.query<{ name: string; dependencies: string[]; max_attempts: number }>(
      `SELECT ns.name, ns.dependencies, ns.max_attempts FROM tasker.named_steps ns
       WHERE ns.named_task_id = $1 ORDER BY ns.position`,
      [first.namedTaskId],
    );
    expect(rows).toEqual([
      { name: 'a', dependencies: [], max_attempts: 3 },
      { name: 'b', dependencies: ['a'], max_attempts: 3 },
      { name: 'c', dependencies: ['a'], max_attempts: 3 },
      { name: 'd', dependencies: ['b', 'c'], max_attempts: 3 },
    ]);
  });

  it('replaces a changed definition under the same version', async () => {
    const v1 = await registerTemplate(db.pool, template('evolving', [{ name: 'x', handler: 'h.x' }], 'tpl_ok'));
    const v2 = await registerTemplate(
      db.pool,
      template('evolving', [{ name: 'y', handler: 'h.y', retry: { max_attempts: 7 } }], 'tpl_ok'),
    );
    expect(v2.namedTaskId).toBe(v1.namedTaskId);
    expect(v2.changed).toBe(true);
    const { rows } = await db.pool.query('SELECT name, max_attempts FROM tasker.named_steps WHERE named_task_id = $1', [
      v1.namedTaskId,
    ]);
    expect(rows).toEqual([{ name: 'y', max_attempts: 7 }]);
  });

  it('fills in defaults when validating', async () => {
    const normalised = await validateTemplate(db.pool, template('defaults', [{ name: 'x', handler: 'h.x' }]));
    expect(normalised.steps[0]).toEqual({
      name: 'x',
      handler: 'h.x',
      type: 'standard',
      dependencies: [],
      inputs: {},
      retry: { max_attempts: 3, backoff_ms: 1000, max_backoff_ms: 60000, retryable: true },
      timeout_ms: 30000,
      max_deliveries: 5,
    });
  });

  it('rejects a duplicate step name', async () => {
    await expectRejected(
      template('dup', [
        { name: 'a', handler: 'h.a' },
        { name: 'a', handler: 'h.b' },
      ]),
      /test_ns\/dup@1\.0\.0: steps\[1\]\.name: duplicate step name "a"/,
      'steps[1].name',
    );
  });

  it('rejects an unknown dependency', async () => {
    await expectRejected(
      template('unknown_dep', [
        { name: 'a', handler: 'h.a' },
        { name: 'b', handler: 'h.b', dependencies: ['a', 'ghost'] },
      ]),
      /step "b" depends on unknown step "ghost"/,
      'steps[1] (b).dependencies[1]',
    );
  });

  it('rejects a cycle and names it', async () => {
    await expectRejected(
      template('cycle', [
        { name: 'start', handler: 'h.s' },
        { name: 'a', handler: 'h.a', dependencies: ['start', 'c'] },
        { name: 'b', handler: 'h.b', dependencies: ['a'] },
        { name: 'c', handler: 'h.c', dependencies: ['b'] },
      ]),
      /dependency cycle: a depends on c depends on b depends on a/,
      'steps',
    );
  });

  it('rejects a step that depends on itself', async () => {
    await expectRejected(
      template('self', [{ name: 'a', handler: 'h.a', dependencies: ['a'] }]),
      /step "a" depends on itself/,
    );
  });

  it('rejects bad handler names, step names, types and settings, naming the field', async () => {
    await expectRejected(
      template('bad_handler', [{ name: 'a', handler: 'rm -rf /' }]),
      /steps\[0\] \(a\)\.handler: "rm -rf \/" is not valid/,
    );
    await expectRejected(template('no_handler', [{ name: 'a' } as never]), /steps\[0\] \(a\)\.handler: is required/);
    await expectRejected(template('bad_step', [{ name: 'A-1', handler: 'h' }]), /steps\[0\]\.name: "A-1" is not valid/);
    await expectRejected(
      template('bad_type', [{ name: 'a', handler: 'h', type: 'parallel' as never }]),
      /steps\[0\] \(a\)\.type: "parallel" is not valid: the step types are standard, decision and batch/,
    );
    await expectRejected(
      template('bad_retry', [{ name: 'a', handler: 'h', retry: { max_attempts: 0 } }]),
      /steps\[0\] \(a\)\.retry\.max_attempts: must be a whole number from 1 to 1000, got 0/,
    );
    await expectRejected(
      template('bad_backoff', [{ name: 'a', handler: 'h', retry: { backoff_ms: 5000, max_backoff_ms: 10 } }]),
      /retry\.max_backoff_ms: must be at least backoff_ms \(5000\), got 10/,
    );
    await expectRejected(
      template('bad_timeout', [{ name: 'a', handler: 'h', timeout_ms: 1.5 }]),
      /timeout_ms: must be a whole number/,
    );
    await expectRejected(template('no_steps', []), /steps: must be a non-empty array of steps/);
    await expectRejected({ ...template('bad_version', [{ name: 'a', handler: 'h' }]), version: 'v1' }, /version: "v1" is not valid/);
  });

  it('rejects an unsafe namespace before it reaches PGMQ', async () => {
    const before = await queues();
    const tables = async () =>
      (await db.pool.query<{ n: number }>("SELECT count(*)::int AS n FROM pg_tables WHERE schemaname = 'pgmq'")).rows[0]?.n;
    const tablesBefore = await tables();

    await expectRejected(
      template('evil', [{ name: 'a', handler: 'h' }], 'a;drop table x'),
      /namespace: 'a;drop table x' is not valid/,
      'namespace',
    );
    await expectRejected(template('long', [{ name: 'a', handler: 'h' }], 'n'.repeat(35)), /namespace: .* is not valid/);
    await expectRejected(template('upper', [{ name: 'a', handler: 'h' }], 'Shop'), /namespace/);

    // The namespace check stands in front of every path to PGMQ, not only templates.
    const direct = await db.pool.query("SELECT tasker.ensure_namespace('a;drop table x')").then(
      () => null,
      (e: unknown) => e,
    );
    expect((direct as { code?: string }).code).toBe('TK002');
    const claim = await db.pool.query("SELECT * FROM tasker.claim_steps('x''); drop table y; --', 1, 1)").then(
      () => null,
      (e: unknown) => e,
    );
    expect((claim as { code?: string }).code).toBe('TK002');

    expect(await queues()).toEqual(before);
    expect(await tables()).toBe(tablesBefore);
  });

  it('accepts the longest namespace PGMQ allows (34 characters)', async () => {
    const ns = 'n'.repeat(34);
    await registerTemplate(db.pool, template('long_ok', [{ name: 'a', handler: 'h' }], ns));
    expect(await queues()).toContain(`worker_${ns}_queue`);
  });

  it('maps the namespace error of ensure_namespace to InvalidNamespaceError through the SDK', async () => {
    const { translateProtocolError } = await import('../../sdk/src/protocol/errors.ts');
    const raw = await db.pool.query("SELECT tasker.ensure_namespace('Bad Name')").catch((e: unknown) => e);
    const typed = translateProtocolError(raw);
    expect(typed).toBeInstanceOf(InvalidNamespaceError);
    expect((typed as InvalidNamespaceError).field).toBe('namespace');
  });
});
