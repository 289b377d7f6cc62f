/**
 * The `ffi` binding's plumbing, without the database: envelopes (every returned pointer read once
 * and freed once, errors typed like the pg binding's), the wire conversions, finding the library,
 * and the Node loader (koffi) end to end against mock-core.c, a stand-in of the C ABI compiled
 * here with `cc`. The real library runs the shared binding suite (test/binding/).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InvalidWorkerCoreArgumentError, InvalidWorkerCoreConfigError, WorkerCoreClosedError } from '../../../src/binding/errors.ts';
import { createFfiWorkerCore } from '../../../src/binding/ffi/core.ts';
import { NativeCoreError, NativeEnvelopeError, openEnvelope, takeCString } from '../../../src/binding/ffi/envelope.ts';
import { NATIVE_LIBRARY_ENV, NativeLibraryMissingError, nativeLibraryFileName, resolveNativeLibraryPath } from '../../../src/binding/ffi/library-path.ts';
import { cString, type TaskerLibrary } from '../../../src/binding/ffi/library.ts';
import { toU32 } from '../../../src/binding/wire.ts';
import { detectRuntime, loadTaskerLibrary } from '../../../src/binding/ffi/load.ts';
import { claimedStepsFromWire, coreStatsFromWire, reportResultFromWire, WireFormatError } from '../../../src/binding/wire.ts';
import { InvalidProtocolArgumentError } from '../../../src/protocol/errors.ts';
import { tempDir, type TempDir } from '../../support/temp-dir.ts';

const STEP = {
  msgId: 3,
  taskId: 't',
  stepId: 's',
  stepName: 'a',
  handler: 'h',
  stepType: 'standard',
  attempt: 1,
  maxAttempts: 3,
  delivery: 2,
  timeoutMs: 1000,
  leaseExpiresAt: '2030-01-01T00:00:00.000Z',
  namespace: 'ns',
  taskName: 'task',
  taskVersion: '1.0.0',
  correlationId: 'c',
  context: { a: 1 },
  inputs: {},
  dependencyResults: { up: [1] },
  successors: ['b'],
};

describe('envelopes', () => {
  it('opens a value, and types errors like the pg binding', () => {
    expect(openEnvelope('{"ok":true,"value":[1]}', 'op')).toEqual([1]);
    expect(() => openEnvelope('{"ok":false,"error":{"code":"UNKNOWN_HANDLE","message":"gone"}}', 'tasker_core_stats')).toThrow(
      expect.objectContaining({ name: 'NativeCoreError', code: 'UNKNOWN_HANDLE', message: 'tasker_core_stats: gone' }),
    );
    const protocol = (() => {
      try {
        openEnvelope('{"ok":false,"error":{"code":"PROTOCOL_ARGUMENT_INVALID","message":"bad","sqlState":"TK007","detail":"{\\"field\\":\\"outcome\\"}"}}', 'op');
      } catch (error) {
        return error;
      }
    })();
    expect(protocol).toBeInstanceOf(InvalidProtocolArgumentError);
    expect((protocol as InvalidProtocolArgumentError).field).toBe('outcome');
    expect(() => openEnvelope('{"ok":false,"error":{"code":"CORE_CLOSED","message":"closed"}}', 'op')).toThrow(WorkerCoreClosedError);
    expect(() => openEnvelope('{"ok":false,"error":{"code":"CONFIG_INVALID","message":"x"}}', 'op')).toThrow(InvalidWorkerCoreConfigError);
  });

  it('refuses what is not an envelope', () => {
    for (const text of ['nope', '[]', '{"value":1}', '{"ok":false,"error":{"code":1}}']) {
      expect(() => openEnvelope(text, 'op')).toThrow(NativeEnvelopeError);
    }
  });

  it('frees a pointer exactly once, even when reading it fails, and never frees null', () => {
    const freed: number[] = [];
    expect(takeCString(5, () => 'text', (p) => freed.push(p), 'op')).toBe('text');
    expect(() =>
      takeCString(
        6,
        () => {
          throw new Error('unreadable');
        },
        (p) => freed.push(p),
        'op',
      ),
    ).toThrow('unreadable');
    expect(freed).toEqual([5, 6]);
    for (const nothing of [null, undefined, 0, 0n]) {
      expect(() => takeCString(nothing, () => 'x', (p) => freed.push(Number(p)), 'op')).toThrow(NativeEnvelopeError);
    }
    expect(freed).toEqual([5, 6]);
  });
});

describe('wire conversions', () => {
  it('turns timestamps into Dates and checks the shape', () => {
    const [step] = claimedStepsFromWire([STEP]);
    expect(step?.leaseExpiresAt).toEqual(new Date('2030-01-01T00:00:00.000Z'));
    expect(step?.dependencyResults).toEqual({ up: [1] });
    const result = { stepId: 's', accepted: true, reason: null, stepState: 'waiting_for_retry', taskState: 'in_progress', enqueued: 0 };
    expect(reportResultFromWire({ ...result, nextRetryAt: '2030-01-01T00:00:01.000Z' }).nextRetryAt).toEqual(new Date('2030-01-01T00:00:01.000Z'));
    expect(reportResultFromWire({ ...result, nextRetryAt: null }).nextRetryAt).toBeNull();
    expect(() => claimedStepsFromWire({})).toThrow(WireFormatError);
    expect(() => claimedStepsFromWire([{ ...STEP, leaseExpiresAt: 'soon' }])).toThrow(WireFormatError);
    expect(() => claimedStepsFromWire([{ ...STEP, attempt: '1' }])).toThrow(/attempt/);
  });

  it('sets the binding of stats whatever the core says', () => {
    const counters = Object.fromEntries(
      ['claimed', 'discarded', 'deferred', 'claimRoundTrips', 'reported', 'rejected', 'reportRoundTrips', 'reportRetries', 'leaseExtensions', 'released', 'reconnects', 'buffered', 'inFlight', 'claimSize'].map((k) => [k, 1]),
    );
    expect(coreStatsFromWire({ ...counters, binding: 'napi' }, 'ffi').binding).toBe('ffi');
    expect(() => coreStatsFromWire({ ...counters, claimed: undefined }, 'ffi')).toThrow(WireFormatError);
  });
});

describe('arguments', () => {
  it('clamps uint32 arguments and NUL-terminates strings', () => {
    expect([toU32(-1), toU32(2.7), toU32(2 ** 40), toU32(Number.NaN)]).toEqual([0, 2, 0xffff_ffff, 0]);
    expect([...cString('hé')]).toEqual([0x68, 0xc3, 0xa9, 0]);
  });
});

describe('finding the library', () => {
  let dir: TempDir;
  beforeAll(async () => {
    dir = await tempDir('tasker-ffi-path');
  });
  afterAll(async () => {
    await dir.remove();
  });

  it('says how to build it when it is nowhere', () => {
    const error = (() => {
      try {
        resolveNativeLibraryPath({ env: {}, nativeDir: join(dir.path, 'native') });
      } catch (thrown) {
        return thrown;
      }
    })();
    expect(error).toBeInstanceOf(NativeLibraryMissingError);
    expect((error as NativeLibraryMissingError).message).toContain('npm run build:native');
    expect((error as NativeLibraryMissingError).searched).toHaveLength(3);
    expect(() => resolveNativeLibraryPath({ env: { [NATIVE_LIBRARY_ENV]: join(dir.path, 'nope.so') } })).toThrow(NATIVE_LIBRARY_ENV);
  });

  it('prefers native/lib, then release, then debug builds', () => {
    const nativeDir = join(dir.path, 'native');
    const file = nativeLibraryFileName();
    for (const sub of ['target/debug', 'target/release', 'lib']) {
      mkdirSync(join(nativeDir, sub), { recursive: true });
      writeFileSync(join(nativeDir, sub, file), '');
      expect(resolveNativeLibraryPath({ env: {}, nativeDir })).toBe(join(nativeDir, sub, file));
    }
  });
});

describe('the koffi loader against a stand-in of the C ABI', () => {
  let dir: TempDir;
  let library: TaskerLibrary;
  let outstanding: () => number;
  const config = { databaseUrl: 'postgres://u@127.0.0.1/db', workerId: 'w', namespaces: ['ns'] };

  beforeAll(async () => {
    expect(detectRuntime()).toBe('node');
    dir = await tempDir('tasker-ffi-mock');
    const path = join(dir.path, 'libtasker_mock.so');
    execFileSync('cc', ['-O2', '-shared', '-fPIC', '-o', path, fileURLToPath(new URL('./mock-core.c', import.meta.url)), '-lpthread']);
    library = await loadTaskerLibrary(path);
    expect(library.loader).toBe('koffi');
    const koffi = await import('koffi');
    const count = koffi.load(path).func('long mock_outstanding(void)') as () => number;
    outstanding = () => Number(count());
  });
  afterAll(async () => {
    await dir.remove();
  });

  it('echoes through the boundary', () => {
    expect(openEnvelope(library.echo('héllo "x"\n'), 'tasker_echo')).toBe('héllo "x"\n');
  });

  it('runs a core: buffered steps at once, a blocking wait off the JS thread, typed results', async () => {
    const core = await createFfiWorkerCore(library, { ...config, mockIntervalMs: 20 } as typeof config);
    await expect(core.next(0, 10)).rejects.toBeInstanceOf(InvalidWorkerCoreArgumentError);
    let ticks = 0;
    const timer = setInterval(() => (ticks += 1), 2);
    const [first] = await core.next(1, 1_000);
    clearInterval(timer);
    expect(first?.leaseExpiresAt).toBeInstanceOf(Date);
    expect(ticks).toBeGreaterThan(0); // the JS thread kept running while next() waited
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect((await core.next(10, 1_000)).length).toBeGreaterThan(1);
    const retried = await core.report({ stepId: 's', attempt: 1, delivery: 1, outcome: 'retryable_failure' });
    expect(retried.nextRetryAt).toEqual(new Date('2030-01-01T00:00:01.000Z'));
    const reports = await Promise.all(Array.from({ length: 8 }, () => core.report({ stepId: 's', attempt: 1, delivery: 1, outcome: 'success' })));
    expect(reports.every((r) => r.accepted && r.nextRetryAt === null)).toBe(true);
    expect(core.takeAborted()).toEqual([]);
    expect(core.stats().binding).toBe('ffi');
    expect(await core.drain(0)).toEqual({ abandoned: 0, released: 0 });
    expect(await core.next(1, 1_000)).toEqual([]);
    expect(core.stats().buffered).toBe(0);
    await expect(core.report({ stepId: 's', attempt: 1, delivery: 1, outcome: 'success' })).rejects.toBeInstanceOf(WorkerCoreClosedError);
  });

  it('checks the config before crossing, and types the core refusing it', async () => {
    await expect(createFfiWorkerCore(library, { ...config, namespaces: ['Not A Namespace'] })).rejects.toBeInstanceOf(InvalidWorkerCoreConfigError);
    await expect(createFfiWorkerCore(library, { ...config, workerId: 'bad' })).rejects.toBeInstanceOf(InvalidWorkerCoreConfigError);
    expect(() => openEnvelope(library.stats(999), 'tasker_core_stats')).toThrow(NativeCoreError);
  });

  it('freed every envelope it was handed', () => {
    expect(outstanding()).toBe(0);
  });
});
