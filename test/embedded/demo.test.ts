/**
 * `npm run demo` (workers/dist/demo/main.js), each run on an embedded server of its own.
 * README: the demo "... then drains the workers and stops what it started"; main.ts: "stops
 * everything it started. Exits non-zero when a task did not end as expected".
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { embeddedPostgresStatus } from '../../sdk/src/index.ts';
import { scratch, startDemo, type DemoProcess } from './helpers.ts';

let dir: Awaited<ReturnType<typeof scratch>>;
const demos: DemoProcess[] = [];
beforeAll(async () => {
  dir = await scratch('demo');
});
afterEach(() => {
  for (const demo of demos.splice(0)) demo.kill();
});
afterAll(async () => {
  await dir.cleanup();
});

function run(stateDir: string, env: Record<string, string> = {}): DemoProcess {
  const demo = startDemo(stateDir, env);
  demos.push(demo);
  return demo;
}

describe('npm run demo', () => {
  it('Ctrl-C (SIGINT to the foreground process group) stops the embedded server the demo started', async () => {
    const stateDir = dir.stateDir('sigint');
    const demo = run(stateDir);
    await demo.waitFor('[INFO] Workers running');
    expect(demo.output()).toContain('Started embedded PostgreSQL'); // the demo started it, so it must stop it
    process.kill(-(demo.child.pid ?? 0), 'SIGINT'); // what the terminal does on Ctrl-C
    // It stops what it started and exits 130 (interrupted), as shells expect of Ctrl-C.
    expect(await demo.exited(60_000), demo.output()).toEqual({ code: 130, signal: null });
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    const status = await embeddedPostgresStatus({ stateDir });
    expect({ state: status.state, pid: status.pid }, 'server the demo started, after Ctrl-C').toEqual({ state: 'stopped', pid: undefined });
  });

  it('when one runtime worker fails to start, the demo stops the others and exits 1', async () => {
    const stateDir = dir.stateDir('worker-fails');
    // Makes only the Node worker (workers/dist/entry/node.js) die at start, as a broken install would;
    // Bun and Deno start normally.
    const preload = join(dir.path, 'fail-node-worker.cjs');
    await writeFile(preload, "if ((process.argv[1] || '').endsWith('/entry/node.js')) { console.error('simulated start failure'); process.exit(7); }\n");
    const demo = run(stateDir, { NODE_OPTIONS: `--require ${preload}` });
    await demo.waitFor('[ERROR] demo failed');
    const exit = await demo.exited(30_000);
    const leftovers = demo.groupMembers();
    expect({ exit, leftovers }, `demo output:\n${demo.output()}`).toEqual({ exit: { code: 1, signal: null }, leftovers: [] });
  });

  it('a second run shows the tasks it ran, not those of the previous run', async () => {
    const stateDir = dir.stateDir('twice');
    const ids = (output: string): string[] => [...output.matchAll(/^\S+\/\S+ {2}([0-9a-f-]{36}) {2}→/gm)].map((m) => m[1] ?? '');

    const first = run(stateDir);
    expect(await first.exited(180_000), first.output()).toEqual({ code: 0, signal: null });
    const second = run(stateDir);
    expect(await second.exited(180_000), second.output()).toEqual({ code: 0, signal: null });

    expect(second.output()).toContain('[INFO] Created 12 tasks');
    const firstIds = new Set(ids(first.output()));
    expect(firstIds.size).toBe(12);
    // "Created 12 tasks", yet the table of the second run shows tasks (and runtimes, attempts and
    // timings) of the first run.
    const fromFirstRun = ids(second.output()).filter((id) => firstIds.has(id));
    expect(fromFirstRun, 'tasks in the 2nd run\'s table that the 1st run created').toEqual([]);
  });
});
