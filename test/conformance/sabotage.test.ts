/**
 * The conformance suite can fail: with TASKER_CONFORMANCE_SABOTAGE=drop-dependency-result in
 * one cell (its handlers never see one of their dependency results, as if the binding had lost
 * it), the diamond scenario fails in that cell with a diff naming the scenario, the cell and the
 * fields, while the same run without the switch passes. Two Node cells keep it cheap; the full
 * matrix runs in `npm run test:conformance`.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { injectedTestServer } from '../support/database.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const RUNNER = join(ROOT, 'conformance/dist/runner/main.js');
const ARGS = ['--scenarios', 'diamond', '--cells', 'node/pg,node/napi', '--no-fleet'];

interface RunnerResult {
  code: number | null;
  output: string;
  report: { verdicts: Array<{ scenario: string; cell: string; passed: boolean; problems: string[] }> };
}

let out: string;

beforeAll(async () => {
  out = await mkdtemp(join(tmpdir(), 'tasker-conformance-'));
});

afterAll(async () => {
  await rm(out, { recursive: true, force: true });
});

async function runConformance(name: string, sabotage: string | undefined): Promise<RunnerResult> {
  const dir = join(out, name);
  const env: Record<string, string | undefined> = { ...process.env, DATABASE_URL: injectedTestServer().adminUrl };
  delete env.TASKER_CONFORMANCE_SABOTAGE;
  if (sabotage !== undefined) env.TASKER_CONFORMANCE_SABOTAGE = sabotage;
  const child = spawn(process.execPath, [RUNNER, ...ARGS, '--out', dir], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  const report = JSON.parse(await readFile(join(dir, 'latest.json'), 'utf8')) as RunnerResult['report'];
  return { code, output, report };
}

describe('the conformance suite catches a broken binding', () => {
  it('passes the diamond in node/pg and node/napi without sabotage', { timeout: 180_000 }, async () => {
    const run = await runConformance('clean', undefined);
    expect(run.output).toContain('PASSED: 2/2 scenario runs passed');
    expect(run.code, run.output).toBe(0);
  });

  it('fails the sabotaged cell with a diff naming scenario, cell and field', { timeout: 180_000 }, async () => {
    const run = await runConformance('sabotaged', 'drop-dependency-result@node/napi');
    expect(run.code, run.output).toBe(1);
    expect(run.output).toContain('SABOTAGE: drop-dependency-result in cell node/napi');
    expect(run.output).toContain('FAIL diamond [node/napi]');
    expect(run.output).not.toContain('FAIL diamond [node/pg]');
    // The expectation names the field; the cross-cell diff names the reference cell and this one.
    expect(run.output).toMatch(/expected tasks\.task\.state: "complete", got "error"/);
    expect(run.output).toMatch(/trace differs from node\/pg:/);
    expect(run.output).toMatch(/tasks\.task\.steps\.\w+\.error: node\/pg null, node\/napi \{"kind":"UnknownDependencyError"/);
    const verdicts = run.report.verdicts.map((v) => [v.scenario, v.cell, v.passed]);
    expect(verdicts).toEqual([
      ['diamond', 'node/pg', true],
      ['diamond', 'node/napi', false],
    ]);
  });
});
