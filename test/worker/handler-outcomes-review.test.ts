/**
 * Review tests for the handler API and the Worker's execution of steps, against a real database
 * (pg binding), written to show bugs: each test states the documented behaviour.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { TaskerClient } from '../../sdk/src/client/index.ts';
import {
  createLogWriter,
  defineHandler,
  type HandlerInput,
  type LogRecord,
} from '../../sdk/src/handler/index.ts';
import { registerTemplate, type TemplateStep } from '../../sdk/src/protocol/index.ts';
import { Worker, type StepFinishedEvent, type WorkerOptions } from '../../sdk/src/worker/index.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { template } from '../support/templates.ts';

let db: TestDatabase;
let client: TaskerClient;
const workers: Worker[] = [];

beforeAll(async () => {
  db = await createTestDatabase();
  client = new TaskerClient({ databaseUrl: db.url });
});

afterEach(async () => {
  await Promise.all(workers.splice(0).map((worker) => worker.stop(0)));
});

afterAll(async () => {
  await client.close();
  await db.drop();
});

async function startWorker(namespace: string, handlers: HandlerInput[], options: Partial<WorkerOptions> = {}) {
  const logs: LogRecord[] = [];
  const finished: StepFinishedEvent[] = [];
  const worker = new Worker({
    databaseUrl: db.url,
    namespaces: [namespace],
    handlers,
    binding: 'pg',
    handleSignals: false,
    logWriter: (record) => logs.push(record),
    onStepFinished: (event) => finished.push(event),
    core: { pollIntervalMs: 50 },
    ...options,
  });
  workers.push(worker);
  await worker.start();
  return { worker, logs, finished };
}

async function runTask(namespace: string, steps: TemplateStep[], context = {}) {
  await registerTemplate(db.pool, template('t', steps, namespace));
  const { taskId } = await client.createTask({ namespace, name: 't', context });
  return taskId;
}

describe('error documents PostgreSQL cannot store', () => {
  it('reports a handler error whose message holds a NUL character (JSON.parse of binary data)', async () => {
    // JSON.parse quotes the offending character in its message: "Unexpected token '\u0000', ...".
    const parse = defineHandler('h.parse', () => JSON.parse('\u0000binary payload') as unknown);
    const { finished, logs } = await startWorker('nul_ns', [parse]);
    const taskId = await runTask('nul_ns', [{ name: 's', handler: 'h.parse', retry: { max_attempts: 1 } }]);
    await expect.poll(() => finished.length, { timeout: 10_000 }).toBe(1);
    // docs/handlers.md: "throws any other Error -> retryable_failure, kind: the error's name"; with
    // one attempt the step ends in error with that kind.
    const refused = logs.find((r) => r.message === 'reporting a step failed')?.fields['error'];
    expect(finished[0]?.result, `report refused: ${String(refused)}`).not.toBeNull();
    const task = await client.waitForTask(taskId, { timeoutMs: 5_000 });
    expect(task.steps[0]).toMatchObject({ state: 'error', error: { kind: 'SyntaxError' } });
  });

  it('reports a thrown long string whose description is cut inside a surrogate pair', async () => {
    // describeValue() truncates JSON.stringify(thrown) at 500 UTF-16 units; here unit 500 is the
    // second half of an emoji, so the stored message ends in a lone high surrogate.
    const throwsText = defineHandler('h.text', () => {
      throw `${'x'.repeat(498)}\u{1F600} and more`;
    });
    const { finished, logs } = await startWorker('sur_ns', [throwsText]);
    const taskId = await runTask('sur_ns', [{ name: 's', handler: 'h.text', retry: { max_attempts: 1 } }]);
    await expect.poll(() => finished.length, { timeout: 10_000 }).toBe(1);
    // docs/handlers.md: "throws something that is not an Error -> retryable_failure, NonErrorThrown".
    const refused = logs.find((r) => r.message === 'reporting a step failed')?.fields['error'];
    expect(finished[0]?.result, `report refused: ${String(refused)}`).not.toBeNull();
    const task = await client.waitForTask(taskId, { timeoutMs: 5_000 });
    expect(task.steps[0]).toMatchObject({ state: 'error', error: { kind: 'NonErrorThrown' } });
  });
});

describe('step log records', () => {
  it('keep taskId, stepId, stepName, correlationId and handler when a handler logs many fields', async () => {
    const lines: string[] = [];
    const chatty = defineHandler('h.chatty', (ctx) => {
      const fields: Record<string, unknown> = {};
      for (let i = 0; i < 100; i += 1) fields[`f${i}`] = i;
      ctx.logger.info('a wide record', fields);
      return null;
    });
    await startWorker('log_ns', [chatty], { logWriter: createLogWriter({ format: 'json', level: 'debug', output: (line) => lines.push(line) }) });
    const taskId = await runTask('log_ns', [{ name: 's', handler: 'h.chatty' }]);
    await client.waitForTask(taskId, { timeoutMs: 10_000 });
    const line = lines.map((l) => JSON.parse(l) as Record<string, unknown>).find((r) => r['message'] === 'a wide record');
    expect(line).toBeDefined();
    // docs/handlers.md: records "always carry taskId, stepId, stepName, correlationId and handler".
    const ids = { taskId: line?.['taskId'], stepName: line?.['stepName'], handler: line?.['handler'] };
    expect(ids).toEqual({ taskId, stepName: 's', handler: 'h.chatty' });
  });
});
describe('isLastAttempt', () => {
  it('is true when a retryable failure would end the step (retry.retryable: false)', async () => {
    const seen: Array<{ attempt: number; maxAttempts: number; isLastAttempt: boolean }> = [];
    const once = defineHandler('h.once', (ctx) => {
      seen.push({ attempt: ctx.attempt, maxAttempts: ctx.maxAttempts, isLastAttempt: ctx.isLastAttempt });
      throw new Error('transient');
    });
    await startWorker('last_ns', [once]);
    const taskId = await runTask('last_ns', [{ name: 's', handler: 'h.once', retry: { max_attempts: 3, retryable: false } }]);
    const task = await client.waitForTask(taskId, { timeoutMs: 10_000 });
    // The retryable failure ended the step on attempt 1: that attempt was the last.
    expect(task.steps[0]).toMatchObject({ state: 'error', attempt: 1 });
    expect(seen).toHaveLength(1);
    expect(seen[0]?.isLastAttempt).toBe(true);
  });
});
