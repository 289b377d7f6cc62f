/**
 * tasker-ctl template validate | register | list, run as a child process: messages that name
 * the file, step and field of a bad template, all-or-nothing registration, and exit statuses.
 */
import { copyFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { FIXTURES, runCli } from './run-cli.ts';

const GOOD = join(FIXTURES, 'templates');
const BAD = join(FIXTURES, 'bad-templates');

let db: TestDatabase;
let scratch: string;

beforeAll(async () => {
  db = await createTestDatabase();
  scratch = await mkdtemp(join(tmpdir(), 'tasker-cli-templates-'));
});

afterAll(async () => {
  await db.drop();
  await rm(scratch, { recursive: true, force: true });
});

describe('template validate', () => {
  it('prints OK with namespace/name@version for each good template and exits 0, without a database', async () => {
    const result = await runCli(['template', 'validate', GOOD]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/OK .*failing\.yaml {2}cli_demo\/failing@1\.0\.0 \(1 step\)/);
    expect(result.stdout).toMatch(/OK .*greeting\.yaml {2}cli_demo\/greeting@1\.0\.0 \(2 steps\)/);
    expect(result.stderr).toContain('[SUCCESS] 3 templates valid');
  });

  it('names the file, line, step and field of each bad template and exits 1', async () => {
    const result = await runCli(['template', 'validate', GOOD, BAD, join(scratch, 'missing.yaml')]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/\[ERROR\] .*bad-retry\.yaml:7:\d+: steps\[0\] \(charge\)\.retry\.max_attempts: .*got 0/);
    expect(result.stderr).toMatch(/\[ERROR\] .*unknown-dependency\.yaml:\d+:\d+: steps\[0\] \(ship\)\.dependencies\[0\]: .*pack/);
    expect(result.stderr).toContain(`[ERROR] ${join(scratch, 'missing.yaml')}: no such file or directory`);
    expect(result.stderr).toContain('[ERROR] 3 of 6 template files invalid');
    // The good ones are still reported as good.
    expect(result.stdout).toContain('cli_demo/greeting@1.0.0');
  });

  it('refuses two files defining the same namespace/name@version, naming both', async () => {
    const dir = await mkdtemp(join(scratch, 'dup-'));
    await copyFile(join(GOOD, 'greeting.yaml'), join(dir, 'a.yaml'));
    await copyFile(join(GOOD, 'greeting.yaml'), join(dir, 'b.yaml'));
    const result = await runCli(['template', 'validate', dir]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`${join(dir, 'b.yaml')}: template cli_demo/greeting@1.0.0 is also defined in ${join(dir, 'a.yaml')}`);
  });

  it('is a usage error (exit 2) without a path or with an unknown option', async () => {
    expect((await runCli(['template', 'validate'])).code).toBe(2);
    const unknown = await runCli(['template', 'validate', '--strict', GOOD]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("Unknown option '--strict'");
  });
});

describe('template register and list', () => {
  it('registers nothing when one file is invalid (exit 1)', async () => {
    const result = await runCli(['template', 'register', GOOD, BAD], { databaseUrl: db.url });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('nothing registered');
    const list = await runCli(['template', 'list', '--json'], { databaseUrl: db.url });
    expect(list.code, list.stderr).toBe(0);
    expect(JSON.parse(list.stdout)).toEqual([]);
  });

  it('registers, says whether each template changed, and lists them', async () => {
    const first = await runCli(['template', 'register', GOOD], { databaseUrl: db.url });
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toMatch(/^changed +cli_demo\/failing@1\.0\.0/m);
    expect(first.stdout).toMatch(/^changed +cli_demo\/greeting@1\.0\.0/m);

    const again = await runCli(['template', 'register', join(GOOD, 'greeting.yaml')], { databaseUrl: db.url });
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toMatch(/^unchanged +cli_demo\/greeting@1\.0\.0/m);
    expect(again.stderr).toContain('1 template registered, 0 changed');

    const table = await runCli(['template', 'list'], { databaseUrl: db.url });
    expect(table.code, table.stderr).toBe(0);
    expect(table.stdout.split('\n')[0]).toMatch(/^NAMESPACE +NAME +VERSION +STEPS +DESCRIPTION$/);
    expect(table.stdout).toMatch(/cli_demo +greeting +1\.0\.0 +2 +Greets someone, then shouts the greeting/);

    const json = await runCli(['template', 'list', '--namespace', 'cli_demo', '--json'], { databaseUrl: db.url });
    expect(JSON.parse(json.stdout)).toEqual([
      expect.objectContaining({ namespace: 'cli_demo', name: 'failing', version: '1.0.0', steps: 1 }),
      expect.objectContaining({ namespace: 'cli_demo', name: 'greeting', version: '1.0.0', steps: 2 }),
      expect.objectContaining({ namespace: 'cli_demo', name: 'napping', version: '1.0.0', steps: 1 }),
    ]);
    const other = await runCli(['template', 'list', '--namespace', 'elsewhere', '--json'], { databaseUrl: db.url });
    expect(JSON.parse(other.stdout)).toEqual([]);
  });

  it('names the database it cannot reach without showing its password (exit 1)', async () => {
    const result = await runCli(['template', 'list'], { databaseUrl: 'postgres://someone:s3cret-pw@127.0.0.1:1/nothing' });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('[ERROR] Cannot connect to postgres://someone:');
    expect(result.stderr).not.toContain('s3cret-pw');
  });
});
