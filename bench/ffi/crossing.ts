/**
 * What crossing the C ABI costs through the `ffi` binding's loaders (sdk/src/binding/ffi), apart
 * from the database: the loaders are pointed at sdk/test/binding/ffi/mock-core.c, a stand-in of
 * the C ABI whose core produces a step every few ms. Runs on Bun and Deno:
 *
 *   node_modules/.bin/bun bench/ffi/crossing.ts
 *   node_modules/.bin/deno run -A bench/ffi/crossing.ts
 *
 * Measures (1) a call on the JS thread (tasker_echo, 64 B), (2) a call off the JS thread (the
 * path of next/report/drain: a worker thread on Bun, nonblocking on Deno), sequential and 8 at a
 * time, (3) how long a produced step takes to reach JS with a blocking next() off the thread,
 * against polling next(…, 0) from the JS thread, and (4) the CPU an idle 2 s wait costs either way.
 * On Bun it also measures (5) a threadsafe JSCallback called from a native thread, the way a
 * callback-based C ABI (which tasker.h does not have) would answer. With the native library
 * built, (1) is measured on it too. Needs a C compiler (cc).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import process from 'node:process';
import { fileURLToPath } from 'node:url';
import type { TaskerLibrary } from '../../sdk/src/binding/ffi/library.ts';
import { resolveNativeLibraryPath } from '../../sdk/src/binding/ffi/library-path.ts';
import { detectRuntime, loadTaskerLibrary } from '../../sdk/src/binding/ffi/load.ts';

const runtime = detectRuntime();
const PAYLOAD = 'x'.repeat(64);

function line(what: string, value: string): void {
  console.log(`${runtime.padEnd(5)} ${what.padEnd(62)} ${value}`);
}

function perCall(startMs: number, calls: number): string {
  return `${(((performance.now() - startMs) * 1000) / calls).toFixed(2)} µs/call`;
}

function handleOf(text: string): number {
  return (JSON.parse(text) as { value: { handle: number } }).value.handle;
}

function syncEcho(lib: TaskerLibrary, label: string): void {
  for (let i = 0; i < 10_000; i++) lib.echo(PAYLOAD);
  const calls = 200_000;
  const start = performance.now();
  for (let i = 0; i < calls; i++) JSON.parse(lib.echo(PAYLOAD));
  line(`${label}: tasker_echo on the JS thread`, perCall(start, calls));
}

async function offThread(lib: TaskerLibrary): Promise<void> {
  const handle = handleOf(await lib.create('{}'));
  for (let i = 0; i < 1_000; i++) await lib.next(handle, 1, 0);
  let calls = 20_000;
  let start = performance.now();
  for (let i = 0; i < calls; i++) await lib.next(handle, 1, 0);
  line('mock: next(…, 0) off the JS thread, one at a time', perCall(start, calls));
  calls = 40_000;
  start = performance.now();
  for (let i = 0; i < calls; i += 8) await Promise.all(Array.from({ length: 8 }, () => lib.next(handle, 1, 0)));
  line('mock: next(…, 0) off the JS thread, 8 at a time', perCall(start, calls));
  await lib.drain(handle, 0);
}

interface Latency {
  p50: number;
  p99: number;
  cpuPercent: number;
}

async function wakeLatency(lib: TaskerLibrary, wait: (handle: number) => Promise<string>): Promise<Latency> {
  const handle = handleOf(await lib.create(JSON.stringify({ mockIntervalMs: 20 })));
  const samples: number[] = [];
  const cpu = process.cpuUsage();
  const start = performance.now();
  while (samples.length < 150) {
    const text = await wait(handle);
    const received = performance.timeOrigin + performance.now();
    for (const step of (JSON.parse(text) as { value: { context: { producedAt: number } }[] }).value) {
      samples.push(received - step.context.producedAt);
    }
  }
  const used = process.cpuUsage(cpu);
  const wallMs = performance.now() - start;
  await lib.drain(handle, 0);
  samples.sort((a, b) => a - b);
  const at = (q: number): number => samples[Math.min(samples.length - 1, Math.floor(q * samples.length))] ?? NaN;
  return { p50: at(0.5), p99: at(0.99), cpuPercent: ((used.user + used.system) / 1000 / wallMs) * 100 };
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function idleCpu(lib: TaskerLibrary, wait: (handle: number, untilMs: number) => Promise<void>): Promise<number> {
  const handle = handleOf(await lib.create('{}'));
  const cpu = process.cpuUsage();
  await wait(handle, performance.now() + 2_000);
  const used = process.cpuUsage(cpu);
  await lib.drain(handle, 0);
  return (used.user + used.system) / 1000;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'tasker-ffi-bench-'));
  try {
    const mockPath = join(dir, 'libtasker_mock.so');
    const source = fileURLToPath(new URL('../../sdk/test/binding/ffi/mock-core.c', import.meta.url));
    execFileSync('cc', ['-O2', '-shared', '-fPIC', '-o', mockPath, source, '-lpthread']);
    const mock = await loadTaskerLibrary(mockPath);
    line('loader', mock.loader);
    const idleBlocking = await idleCpu(mock, async (handle, until) => {
      await mock.next(handle, 10, Math.round(until - performance.now()));
    });
    line('idle 2 s: blocking next off the JS thread', `${idleBlocking.toFixed(1)} ms CPU`);
    const idlePolling = await idleCpu(mock, async (handle, until) => {
      while (performance.now() < until) {
        mock.nextNow(handle, 10);
        await sleep(1);
      }
    });
    line('idle 2 s: polling every 1 ms on the JS thread', `${idlePolling.toFixed(1)} ms CPU`);
    syncEcho(mock, 'mock');
    let real: string | undefined;
    try {
      real = resolveNativeLibraryPath();
    } catch {
      line('native library', 'not built (npm run build:native): skipped');
    }
    if (real !== undefined) syncEcho(await loadTaskerLibrary(real), 'native');
    await offThread(mock);

    const blocking = await wakeLatency(mock, (handle) => mock.next(handle, 10, 1_000));
    line('wake: blocking next(…, 1000) off the JS thread', fmt(blocking));
    for (const every of [1, 5]) {
      const polled = await wakeLatency(mock, async (handle) => {
        for (;;) {
          const text = mock.nextNow(handle, 10);
          if (!text.includes('"value":[]')) return text;
          await sleep(every);
        }
      });
      line(`wake: polling next(…, 0) on the JS thread every ${every} ms`, fmt(polled));
    }
    if (runtime === 'bun') await bunJsCallback(mockPath);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The members of bun:ffi used by bunJsCallback (its types are not visible to tsc). */
interface BunFfiForBench {
  dlopen(
    path: string,
    symbols: Record<string, { args: string[]; returns: string }>,
  ): { symbols: Record<string, (...args: unknown[]) => unknown> };
  JSCallback: new (
    fn: (pointer: number) => void,
    definition: { args: string[]; returns: string; threadsafe: boolean },
  ) => { ptr: number; close(): void };
  CString: new (pointer: number) => { toString(): string };
}

async function bunJsCallback(mockPath: string): Promise<void> {
  const specifier = 'bun:ffi';
  const ffi = (await import(specifier)) as BunFfiForBench;
  const { symbols } = ffi.dlopen(mockPath, {
    mock_echo_later: { args: ['ptr', 'function'], returns: 'void' },
    tasker_string_free: { args: ['ptr'], returns: 'void' },
  });
  let answer: ((text: string) => void) | undefined;
  const callback = new ffi.JSCallback(
    (pointer) => {
      const text = new ffi.CString(pointer).toString();
      symbols.tasker_string_free?.(pointer);
      const resolve = answer;
      answer = undefined;
      resolve?.(text);
    },
    { args: ['ptr'], returns: 'void', threadsafe: true },
  );
  const payload = new TextEncoder().encode(`${PAYLOAD}\0`);
  const call = (): Promise<string> =>
    new Promise((resolve) => {
      answer = resolve;
      symbols.mock_echo_later?.(payload, callback.ptr);
    });
  for (let i = 0; i < 2_000; i++) await call();
  const calls = 20_000;
  const start = performance.now();
  for (let i = 0; i < calls; i++) JSON.parse(await call());
  line('mock: echo answered by a threadsafe JSCallback from a native thread', perCall(start, calls));
  callback.close();
}

function fmt(latency: Latency): string {
  return `p50 ${latency.p50.toFixed(2)} ms, p99 ${latency.p99.toFixed(2)} ms, CPU ${latency.cpuPercent.toFixed(1)}%`;
}

await main();
// Bun's idle worker threads are unref'd; Deno and Node have nothing left either. Exit explicitly all the same.
process.exit(0);
