/**
 * The TypeScript template checks against the SQL validation (tasker.validate_template), which is
 * the authority: every template the parser accepts must register, boundary values both accept,
 * and each mistake both reject at the same field.
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InvalidTemplateError, registerTemplate, validateTemplate, type TaskTemplate, type TemplateStep } from '../../src/protocol/index.ts';
import { TemplateError, checkTemplate, loadTemplateDir } from '../../src/template/index.ts';
import { createTestDatabase, type TestDatabase } from '../../../test/support/database.ts';

const here = fileURLToPath(new URL('.', import.meta.url));
const FIXTURES = join(here, 'fixtures');
const WORKER_TEMPLATES = join(here, '../../../workers/templates');

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase();
});

afterAll(async () => {
  await db.drop();
});

describe('templates the parser accepts register in SQL', () => {
  for (const [label, dir] of [
    ['test fixtures', FIXTURES],
    ['the sample workers', WORKER_TEMPLATES],
  ] as const) {
    it(`${label} (${dir})`, async () => {
      const loaded = await loadTemplateDir(dir);
      expect(loaded.length).toBeGreaterThan(0);
      for (const { file, template } of loaded) {
        const normalised = await validateTemplate(db.pool, template);
        expect(normalised.steps.map((s) => [s.name, s.handler, s.dependencies]), file).toEqual(
          template.steps.map((s) => [s.name, s.handler, s.dependencies ?? []]),
        );
        expect(normalised.input_schema ?? null, file).toEqual(template.input_schema ?? null);
        expect((await registerTemplate(db.pool, template)).namespace).toBe(template.namespace);
      }
    });
  }
});

/** A template in namespace `agree` with the given steps. */
const batchShape = (steps: TemplateStep[]): TaskTemplate => ({ namespace: 'agree', name: 'batch', version: '1.0.0', steps });

const base = (): TaskTemplate => ({
  namespace: 'agree',
  name: 'order',
  version: '1.0.0',
  steps: [
    { name: 'first', handler: 'h.first' },
    { name: 'second', handler: 'h.second', dependencies: ['first'] },
  ],
});

/** `base()` with its second step changed. */
const second = (changes: Record<string, unknown>): unknown => {
  const template = base() as unknown as { steps: Array<Record<string, unknown>> };
  template.steps[1] = { ...template.steps[1], ...changes };
  return template;
};

describe('boundary values: both accept', () => {
  it.each([
    ['max_attempts 1000', second({ retry: { max_attempts: 1000 } })],
    ['max_attempts 1', second({ retry: { max_attempts: 1 } })],
    ['backoff 0 with max_backoff 0', second({ retry: { backoff_ms: 0, max_backoff_ms: 0 } })],
    ['max_backoff equal to backoff', second({ retry: { backoff_ms: 5000, max_backoff_ms: 5000 } })],
    ['backoff above the default max_backoff, alone', second({ retry: { backoff_ms: 120000 } })],
    ['timeout 1 ms', second({ timeout_ms: 1 })],
    ['timeout one day', second({ timeout_ms: 86_400_000 })],
    ['max_deliveries 1000', second({ max_deliveries: 1000 })],
    ['null optional settings', second({ type: null, timeout_ms: null, max_deliveries: null, dependencies: null })],
    ['null retry numbers', second({ retry: { max_attempts: null, backoff_ms: null } })],
    ['a batch step and its worker step', { ...base(), steps: [{ name: 'first', handler: 'h', type: 'batch' }, base().steps[1]] }],
    [
      'a batch step, its worker, and convergence steps with other dependencies',
      batchShape([
        { name: 'split', handler: 'h', type: 'batch', dependencies: ['load'] },
        { name: 'load', handler: 'h' },
        { name: 'work', handler: 'h', type: 'standard', dependencies: ['split'] },
        { name: 'merge', handler: 'h', dependencies: ['work', 'load'] },
        { name: 'report', handler: 'h', dependencies: ['work'] },
      ]),
    ],
    [
      'chained batches: a convergence step that is itself a batch step',
      batchShape([
        { name: 'split', handler: 'h', type: 'batch' },
        { name: 'work', handler: 'h', dependencies: ['split'] },
        { name: 'resplit', handler: 'h', type: 'batch', dependencies: ['work'] },
        { name: 'rework', handler: 'h', dependencies: ['resplit'] },
      ]),
    ],
    ['handler with : / - and leading _', second({ handler: '_Ns::Deep/Path-1.v2' })],
    ['128-character handler', second({ handler: `h${'x'.repeat(127)}` })],
    ['64-character step names', { ...base(), steps: [{ name: `s${'x'.repeat(63)}`, handler: 'h' }] }],
    ['34-character namespace', { ...base(), namespace: `n${'x'.repeat(33)}` }],
    ['boolean input_schema', { ...base(), input_schema: true }],
    ['6-digit version parts', { ...base(), version: '123456.0.999999' }],
    ['version parts of 0 and 10', { ...base(), version: '0.10.0' }],
  ])('%s', async (_what, template) => {
    const checked = checkTemplate(template, 'agree.yaml');
    await expect(validateTemplate(db.pool, checked)).resolves.toBeTruthy();
    // The template as given (with nulls) is accepted by SQL too.
    await expect(validateTemplate(db.pool, template as TaskTemplate)).resolves.toBeTruthy();
  });
});

describe('mistakes: both reject, at the same field', () => {
  it.each([
    ['namespace with a capital', { ...base(), namespace: 'Shop' }],
    ['namespace of 35 characters', { ...base(), namespace: `n${'x'.repeat(34)}` }],
    ['missing name', { ...base(), name: undefined }],
    ['name of 65 characters', { ...base(), name: `n${'x'.repeat(64)}` }],
    ['version with 7 digits', { ...base(), version: '1234567.0.0' }],
    ['version as a number', { ...base(), version: 1 }],
    ['version with a leading zero', { ...base(), version: '01.0.0' }],
    ['version with a leading zero in its patch', { ...base(), version: '1.0.00' }],
    ['description not a string', { ...base(), description: 5 }],
    ['input_schema a list', { ...base(), input_schema: ['type'] }],
    ['no steps', { ...base(), steps: [] }],
    ['a step that is not a mapping', { ...base(), steps: ['first'] }],
    ['bad step name', second({ name: '2nd' })],
    ['duplicate step name', second({ name: 'first' })],
    ['missing handler', second({ handler: null })],
    ['handler of 129 characters', second({ handler: `h${'x'.repeat(128)}` })],
    ['handler starting with a digit', second({ handler: '1h' })],
    ['unknown type', second({ type: 'parallel' })],
    ['dependencies not a list', second({ dependencies: 'first' })],
    ['a dependency that is not a string', second({ dependencies: [1] })],
    ['unknown dependency', second({ dependencies: ['zeroth'] })],
    ['self dependency', second({ dependencies: ['second'] })],
    ['dependency twice', second({ dependencies: ['first', 'first'] })],
    ['retry a list', second({ retry: [3] })],
    ['max_attempts 0', second({ retry: { max_attempts: 0 } })],
    ['max_attempts 1001', second({ retry: { max_attempts: 1001 } })],
    ['max_attempts 2.5', second({ retry: { max_attempts: 2.5 } })],
    ['max_attempts "3"', second({ retry: { max_attempts: '3' } })],
    ['backoff over a day', second({ retry: { backoff_ms: 86_400_001 } })],
    ['max_backoff below backoff', second({ retry: { backoff_ms: 500, max_backoff_ms: 499 } })],
    ['max_backoff below the default backoff', second({ retry: { max_backoff_ms: 999 } })],
    ['retryable "yes"', second({ retry: { retryable: 'yes' } })],
    ['retryable null', second({ retry: { retryable: null } })],
    ['inputs a list', second({ inputs: [1] })],
    ['timeout 0', second({ timeout_ms: 0 })],
    ['max_deliveries 1001', second({ max_deliveries: 1001 })],
  ])('%s', async (_what, template) => {
    let ts: TemplateError | undefined;
    try {
      checkTemplate(template, 'agree.yaml');
    } catch (error) {
      if (!(error instanceof TemplateError)) throw error;
      ts = error;
    }
    const sql = await validateTemplate(db.pool, template as TaskTemplate).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(ts, 'TypeScript accepted it').toBeInstanceOf(TemplateError);
    expect(sql, 'SQL accepted it').toBeInstanceOf(InvalidTemplateError);
    // SQL names a step by index before it knows the name is usable; compare without the name.
    const strip = (field: string | undefined) => (field ?? '').replace(/ \([a-z0-9_]+\)/, '');
    expect(strip(ts?.path)).toBe(strip((sql as InvalidTemplateError).field));
  });

  it.each([
    ['a batch step without a successor', second({ type: 'batch' }), 'steps[1] (second).type'],
    [
      'a batch step with two successors',
      batchShape([
        { name: 'split', handler: 'h', type: 'batch' },
        { name: 'work', handler: 'h', dependencies: ['split'] },
        { name: 'audit', handler: 'h', dependencies: ['split'] },
      ]),
      'steps[2] (audit).dependencies[0]',
    ],
    [
      'a convergence step that also depends on the batch step (listed first)',
      batchShape([
        { name: 'split', handler: 'h', type: 'batch' },
        { name: 'merge', handler: 'h', dependencies: ['work', 'split'] },
        { name: 'work', handler: 'h', dependencies: ['split'] },
      ]),
      'steps[1] (merge).dependencies[1]',
    ],
    [
      'a worker step with a second dependency',
      batchShape([
        { name: 'split', handler: 'h', type: 'batch' },
        { name: 'load', handler: 'h' },
        { name: 'work', handler: 'h', dependencies: ['load', 'split'] },
      ]),
      'steps[2] (work).dependencies[0]',
    ],
    [
      'a worker step that is a decision step',
      batchShape([
        { name: 'split', handler: 'h', type: 'batch' },
        { name: 'work', handler: 'h', type: 'decision', dependencies: ['split'] },
        { name: 'a', handler: 'h', dependencies: ['work'] },
      ]),
      'steps[1] (work).type',
    ],
    [
      'a worker step that is a batch step',
      batchShape([
        { name: 'split', handler: 'h', type: 'batch' },
        { name: 'work', handler: 'h', type: 'batch', dependencies: ['split'] },
        { name: 'inner', handler: 'h', dependencies: ['work'] },
      ]),
      'steps[1] (work).type',
    ],
  ])('batch rules, %s: both reject at %s with the same words', async (_what, template, field) => {
    let ts: TemplateError | undefined;
    try {
      checkTemplate(template, 'agree.yaml');
    } catch (error) {
      if (!(error instanceof TemplateError)) throw error;
      ts = error;
    }
    const sql = await validateTemplate(db.pool, template as TaskTemplate).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(ts, 'TypeScript accepted it').toBeInstanceOf(TemplateError);
    expect(sql, 'SQL accepted it').toBeInstanceOf(InvalidTemplateError);
    expect(ts?.path).toBe(field);
    expect((sql as InvalidTemplateError).field).toBe(field);
    expect(ts?.problem).toBe((sql as InvalidTemplateError).detail.problem);
  });

  it('a cycle: both reject and name the same steps', async () => {
    const template = base();
    template.steps[0] = { name: 'first', handler: 'h', dependencies: ['second'] };
    expect(() => checkTemplate(template, 'agree.yaml')).toThrow(/dependency cycle: first depends on second depends on first/);
    await expect(validateTemplate(db.pool, template)).rejects.toThrow(/dependency cycle: first depends on second depends on first/);
  });

  it('`retry: null` and `inputs: null` (an empty YAML key): TypeScript drops them, SQL refuses them as written', async () => {
    const template = second({ retry: null, inputs: null });
    const checked = checkTemplate(template, 'agree.yaml');
    expect(checked.steps[1]).toEqual({ name: 'second', handler: 'h.second', dependencies: ['first'] });
    await expect(validateTemplate(db.pool, checked)).resolves.toBeTruthy();
    await expect(validateTemplate(db.pool, template as TaskTemplate)).rejects.toThrow(/steps\[1\] \(second\)\.retry: must be an object/);
  });

  it('unknown keys: only TypeScript rejects them (the database would drop them silently)', async () => {
    const template = second({ depends_on: ['first'] });
    expect(() => checkTemplate(template, 'agree.yaml')).toThrow(/unknown key "depends_on"/);
    const normalised = await validateTemplate(db.pool, template as TaskTemplate);
    expect(normalised.steps[1]).not.toHaveProperty('depends_on');
  });
});
