/**
 * tasker-ctl worker: finds the handlers exported by the modules of a directory, runs them until
 * SIGTERM and exits 0 after draining; `task create --wait` follows a task it runs to the end.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerTemplate } from '../../sdk/src/protocol/index.ts';
import { parseTemplate } from '../../sdk/src/template/index.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { FIXTURES, ROOT, runCli, spawnCli, type CliProcess } from './run-cli.ts';

const HANDLERS = join(FIXTURES, 'handlers');
const TEMPLATES = join(FIXTURES, 'templates');

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase();
});

afterAll(async () => {
  await db.drop();
});

describe('worker refuses to start', () => {
  it('with a handler directory that exports no handler (exit 1)', async () => {
    const dir = join(FIXTURES, 'empty-handlers');
    const result = await runCli(['worker', '--handlers', dir, '--namespace', 'cli_demo'], { databaseUrl: db.url });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`[ERROR] handler directory ${dir}: no handlers found in 1 module(s)`);
  });

  it('with a handler class extending another copy of StepHandler (exit 1)', async () => {
    const result = await runCli(['worker', '--handlers', join(FIXTURES, 'foreign-handlers'), '--namespace', 'cli_demo'], { databaseUrl: db.url });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/\[ERROR\] cannot import handler module \S+impostor\.mjs: export Impostor extends a StepHandler from another copy/);
  });

  it('with a handler directory that does not exist (exit 1)', async () => {
    const dir = join(FIXTURES, 'no-such-dir');
    const result = await runCli(['worker', '--handlers', dir, '--namespace', 'cli_demo'], { databaseUrl: db.url });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`[ERROR] handler directory ${dir}: it does not exist`);
  });

  it('when the templates it serves name handlers no module exports (exit 1)', async () => {
    const templates = join(ROOT, 'workers/templates');
    const result = await runCli(['worker', '--handlers', HANDLERS, '--templates', templates], { databaseUrl: db.url });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(
      /\[ERROR\] no handler module exports the handlers these templates need: .*ecommerce\/order_fulfillment@1\.0\.0 \(\S+ecommerce_order\.yaml\) needs "ecommerce\.validate_cart", "ecommerce\.process_payment"/,
    );
  });

  it('with an invalid template, naming its file and field (exit 1)', async () => {
    const result = await runCli(['worker', '--handlers', HANDLERS, '--templates', join(FIXTURES, 'bad-templates')], { databaseUrl: db.url });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/\[ERROR\] .*bad-retry\.yaml:7:\d+: steps\[0\] \(charge\)\.retry\.max_attempts/);
  });

  it('with an invalid --namespace or templates directory before importing any handler module', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tasker-import-marker-'));
    const marker = join(dir, 'imported');
    await writeFile(join(dir, 'marks.mjs'), `import { writeFileSync } from 'node:fs';\nwriteFileSync(${JSON.stringify(marker)}, 'yes');\n`);
    const badNamespace = await runCli(['worker', '--handlers', dir, '--namespace', 'Bad!'], { databaseUrl: db.url });
    expect(badNamespace.code, badNamespace.stderr).toBe(2);
    expect(badNamespace.stderr).toContain('--namespace "Bad!" is not valid');
    const badTemplates = await runCli(['worker', '--handlers', dir, '--templates', join(FIXTURES, 'no-such-dir')], { databaseUrl: db.url });
    expect(badTemplates.code, badTemplates.stderr).toBe(1);
    expect(existsSync(marker), 'a handler module was imported').toBe(false);
  });

  it('without --handlers or a namespace, or with an unknown binding (exit 2)', async () => {
    for (const args of [
      ['worker', '--namespace', 'cli_demo'],
      ['worker', '--handlers', HANDLERS],
      ['worker', '--handlers', HANDLERS, '--namespace', 'cli_demo', '--binding', 'wasm'],
      ['worker', '--handlers', HANDLERS, '--namespace', 'cli_demo', '--concurrency', '0'],
    ]) {
      const result = await runCli(args, { databaseUrl: db.url });
      expect(result.code, `${args.join(' ')}: ${result.stderr}`).toBe(2);
    }
  });
});

describe('worker with task create --wait', () => {
  let worker: CliProcess;

  beforeAll(async () => {
    const register = await runCli(['template', 'register', TEMPLATES], { databaseUrl: db.url });
    expect(register.code, register.stderr).toBe(0);
    // Namespaces come from --templates; napi is the default binding, named here to be explicit.
    // The directory named twice (`dir` and `dir/`) is imported once.
    worker = spawnCli(['worker', '--handlers', HANDLERS, '--handlers', `${HANDLERS}/`, '--templates', TEMPLATES, '--binding', 'napi', '--concurrency', '4'], {
      databaseUrl: db.url,
    });
    await worker.waitFor('worker started');
  });

  afterAll(() => {
    if (worker.child.exitCode === null) worker.child.kill('SIGKILL');
  });

  it('loaded both handler styles and ignored the other exports', () => {
    const { stderr } = worker.output();
    expect(stderr).toContain('[INFO] 4 handlers from');
    expect(stderr).toMatch(/: cli\.fail, cli\.greet, cli\.nap, cli\.shout; serving cli_demo/);
  });

  it('create --wait prints the step changes and exits 0 when the task completes', async () => {
    const result = await runCli(
      ['task', 'create', 'cli_demo/greeting', '--context', '{"name":"ada"}', '--wait', '--wait-timeout-ms', '30000'],
      { databaseUrl: db.url },
    );
    expect(result.code, `${result.stdout}\n${result.stderr}`).toBe(0);
    const [taskId] = result.stdout.split('\n');
    expect(taskId).toMatch(/^[0-9a-f-]{36}$/);
    expect(result.stdout).toMatch(/step shout +.*→ complete .*\{"shouted":"HELLO ADA"\}/);
    expect(result.stderr).toContain(`[SUCCESS] task ${taskId} complete in`);

    const get = await runCli(['task', 'get', taskId!, '--json'], { databaseUrl: db.url });
    expect(get.code).toBe(0);
    expect(JSON.parse(get.stdout)).toMatchObject({
      state: 'complete',
      steps: [
        { name: 'greet', state: 'complete', result: { greeting: 'hello ada' } },
        { name: 'shout', state: 'complete', result: { shouted: 'HELLO ADA' } },
      ],
    });
  });

  it('create --wait exits 3 when the task ends in error, naming the failed step', async () => {
    const result = await runCli(['task', 'create', 'cli_demo/failing', '--wait', '--json'], { databaseUrl: db.url });
    expect(result.code, result.stderr).toBe(3);
    // With --json, stdout is the finished task alone.
    expect(JSON.parse(result.stdout)).toMatchObject({ state: 'error', steps: [{ name: 'refuse', state: 'error' }] });
    expect(result.stderr).toMatch(/\[ERROR\] task \S+ error in .*refuse: PermanentError: refused on purpose/);
  });

  it('on SIGTERM lets the running step finish, then exits 0', async () => {
    const create = await runCli(['task', 'create', 'cli_demo/napping', '--context', '{"ms":1500}'], { databaseUrl: db.url });
    expect(create.code, create.stderr).toBe(0);
    const taskId = create.stdout.trim();
    await worker.waitFor(`NAPPING ${taskId}`);
    worker.child.kill('SIGTERM');
    const code = await worker.exited;
    const { stderr } = worker.output();
    expect(code, stderr).toBe(0);
    expect(stderr).toContain('SIGTERM received: draining');
    expect(stderr).toContain('worker stopped');
    const get = await runCli(['task', 'get', taskId, '--json'], { databaseUrl: db.url });
    expect(get.code, get.stderr).toBe(0);
    expect(JSON.parse(get.stdout)).toMatchObject({ state: 'complete', steps: [{ name: 'nap', result: { napped: 1500 } }] });
  });
});

describe.each(['bun', 'deno'] as const)('worker on %s', (runtime) => {
  it('imports TypeScript handler modules, runs a task, and exits 0 on SIGTERM', { timeout: 90_000 }, async () => {
    const namespace = `cli_${runtime}`;
    // The fixture template is in cli_demo; register a copy in a namespace of this runtime's own.
    const file = join(FIXTURES, 'templates', 'greeting.yaml');
    await registerTemplate(db.pool, { ...parseTemplate(await readFile(file, 'utf8'), file), namespace });
    const worker = spawnCli(['worker', '--handlers', join(FIXTURES, 'ts-handlers'), '--namespace', namespace], {
      databaseUrl: db.url,
      runtime,
    });
    try {
      await worker.waitFor('worker started', 60_000);
      expect(worker.output().stderr).toContain(`runtime=${runtime}`);
      const result = await runCli(
        ['task', 'create', `${namespace}/greeting`, '--context', `{"name":"${runtime}"}`, '--wait', '--wait-timeout-ms', '30000'],
        { databaseUrl: db.url },
      );
      expect(result.code, `${result.stdout}\n${result.stderr}\n${worker.output().stderr}`).toBe(0);
      expect(result.stdout).toContain(`{"shouted":"HELLO ${runtime.toUpperCase()}"}`);
      worker.child.kill('SIGTERM');
      expect(await worker.exited, worker.output().stderr).toBe(0);
    } finally {
      if (worker.child.exitCode === null) worker.child.kill('SIGKILL');
    }
  });
});
