/**
 * the two ```ts blocks of README.md that talk to a database ("The protocol in one
 * example" and the worker-core block under "Worker cores and bindings") are run as written,
 * imports pointed at the source tree, against a test database. Together they must complete the
 * shop/order task they start.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { getTaskStatus } from '../../sdk/src/index.ts';
import { ROOT } from '../cli/run-cli.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';

const README = readFileSync(`${ROOT}README.md`, 'utf8');
const DIR = join(ROOT, 'test/docs/.snippets');

function block(after: string): string {
  const start = README.indexOf(after);
  const match = /```ts\n([\s\S]*?)```/.exec(README.slice(start));
  if (start < 0 || match === null) throw new Error(`no ts block after ${after}`);
  return (match[1] ?? '')
    .replaceAll("'@tasker/sdk/binding'", `'${ROOT}sdk/src/binding/index.ts'`)
    .replaceAll("'@tasker/sdk'", `'${ROOT}sdk/src/index.ts'`);
}

let db: TestDatabase;
const saved = process.env['DATABASE_URL'];

beforeAll(async () => {
  db = await createTestDatabase();
  process.env['DATABASE_URL'] = db.url;
  mkdirSync(DIR, { recursive: true });
});

afterAll(async () => {
  if (saved === undefined) delete process.env['DATABASE_URL'];
  else process.env['DATABASE_URL'] = saved;
  rmSync(DIR, { recursive: true, force: true });
  await db.drop();
});

it('README "The protocol in one example" and the worker-core block run and complete the task', async () => {
  const protocol = block('## The protocol in one example');
  writeFileSync(join(DIR, 'protocol.ts'), `${protocol}\nawait pool.end();\nexport { taskId };\n`);
  const { taskId } = (await import(join(DIR, 'protocol.ts'))) as { taskId: string };
  const afterProtocol = await getTaskStatus(db.pool, taskId);
  expect(afterProtocol?.steps.find((s) => s.name === 'charge')?.state).toBe('complete');

  const core = block('## Worker cores and bindings');
  // The block uses `databaseUrl` without declaring it; give it the one the README means.
  writeFileSync(join(DIR, 'core.ts'), `const databaseUrl = process.env.DATABASE_URL!;\n${core}\nexport {};\n`);
  await import(join(DIR, 'core.ts'));
  const status = await getTaskStatus(db.pool, taskId);
  expect(status?.state).toBe('complete');
});
