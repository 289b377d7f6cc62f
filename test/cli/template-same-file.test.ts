/**
 * `template validate` / `template register` take files and directories; one file named twice
 * (a directory and a file in it, spelt differently) used to be reported as defining its own
 * template twice, and register then registered nothing. Files are told apart by resolved path.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { runCli } from './run-cli.ts';
import { oneStep, scratchDir } from './scratch-templates.ts';

let db: TestDatabase;
let dir: Awaited<ReturnType<typeof scratchDir>>;

beforeAll(async () => {
  db = await createTestDatabase();
  dir = await scratchDir('same-file');
  await dir.write('order.yaml', oneStep('cli_same', 'order', '1.0.0'));
});

afterAll(async () => {
  await db.drop();
  await dir.cleanup();
});

describe('one file named twice', () => {
  it('exact same spelling: counted once (control)', async () => {
    const result = await runCli(['template', 'validate', dir.path, join(dir.path, 'order.yaml')]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toContain('[SUCCESS] 1 template valid');
  });

  it('template validate DIR ./DIR/order.yaml: the file is not a duplicate of itself', async () => {
    const sameFile = `${dir.path}/./order.yaml`;
    const result = await runCli(['template', 'validate', dir.path, sameFile]);
    // It was exit 1: "[ERROR] <dir>/./order.yaml: template cli_same/order@1.0.0 is also defined in <dir>/order.yaml".
    expect(result.stderr).not.toContain('is also defined in');
    expect(result.code, result.stderr).toBe(0);
  });

  it('template register DIR DIR//order.yaml registers the template', async () => {
    const result = await runCli(['template', 'register', dir.path, `${dir.path}//order.yaml`], { databaseUrl: db.url });
    expect(result.stderr).not.toContain('is also defined in');
    expect(result.code, result.stderr).toBe(0);
  });
});
