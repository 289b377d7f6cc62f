/**
 * `npm run proto:check` passes on the committed generated code and fails, naming the file, when
 * it drifts from proto/: a file edited, missing, or not generated from any .proto.
 */
import { appendFile, cp, rm, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../../sdk/test/support/temp-dir.ts';
import { runChild } from '../support/child-process.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
let dir: Awaited<ReturnType<typeof tempDir>>;

function check(gen: string) {
  return runChild(process.execPath, [join(ROOT, 'scripts/proto-check.mjs')], {
    timeoutMs: 60_000,
    cwd: ROOT,
    env: { ...process.env, TASKER_PROTO_GEN_DIR: gen },
  });
}

async function copy(name: string): Promise<string> {
  const target = join(dir.path, name);
  await cp(join(ROOT, 'sdk/src/gen'), target, { recursive: true });
  return target;
}

beforeAll(async () => {
  dir = await tempDir('tasker-proto-check');
});

afterAll(async () => {
  await dir.remove();
});

describe('proto:check', () => {
  it('passes on the committed code', { timeout: 60_000 }, async () => {
    const result = await check(join(ROOT, 'sdk/src/gen'));
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/sdk\/src\/gen matches it \(3 files\)/);
  });

  it('fails on an edited, a missing and a stray file, naming each', { timeout: 60_000 }, async () => {
    const gen = await copy('drifted');
    await appendFile(join(gen, 'tasker/v1/tasks_pb.ts'), '// edited by hand\n');
    await unlink(join(gen, 'grpc/health/v1/health_pb.ts'));
    await writeFile(join(gen, 'tasker/v1/old_pb.ts'), 'export {};\n');
    const result = await check(gen);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('differs: sdk/src/gen/tasker/v1/tasks_pb.ts');
    expect(result.stderr).toContain('missing: sdk/src/gen/grpc/health/v1/health_pb.ts');
    expect(result.stderr).toContain('not generated from proto/: sdk/src/gen/tasker/v1/old_pb.ts');
    expect(result.stderr).toContain('run `npm run proto:generate`');
    await rm(gen, { recursive: true, force: true });
  });
});
