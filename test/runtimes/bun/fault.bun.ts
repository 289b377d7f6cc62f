/**
 * The fault scenario (test/binding/fault-scenario.ts) on Bun: one test per binding named in
 * TASKER_TEST_BINDINGS (default `pg,napi,ffi`), on a PostgreSQL server of its own that the
 * scenario stops and starts again. Run with `bun test ./test/runtimes/bun/fault.bun.ts` (part of
 * `npm run test:bun`). A binding that cannot be loaded fails its test.
 */
import { afterAll, beforeAll, describe, test } from 'bun:test';
import { describeFaultOutcome, FAULT_SCENARIO_TIMEOUT_MS, runFaultScenario } from '../../binding/fault-scenario.ts';
import { startFaultServer, type FaultServer } from '../../binding/fault-server.ts';
import { bindingForTest, bindingsUnderTest } from '../bindings.ts';

/** Starting (initdb) and stopping the private server can take a while on a busy machine. */
const SERVER_TIMEOUT_MS = 90_000;

let server: FaultServer | undefined;

beforeAll(async () => {
  server = await startFaultServer();
}, SERVER_TIMEOUT_MS);

afterAll(async () => {
  await server?.release();
}, SERVER_TIMEOUT_MS);

for (const name of bindingsUnderTest()) {
  describe(`${name} binding on bun survives a database restart mid-stream`, () => {
    test(
      'completes 200 steps exactly once, losing no report',
      async () => {
        if (server === undefined) throw new Error('the fault-test server did not start');
        console.log(describeFaultOutcome(name, 'bun', await runFaultScenario(await bindingForTest(name), server)));
      },
      FAULT_SCENARIO_TIMEOUT_MS,
    );
  });
}
