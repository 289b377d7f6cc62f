/**
 * The fault scenario (test/binding/fault-scenario.ts) on Deno: one test per binding named in
 * TASKER_TEST_BINDINGS (default `pg,napi,ffi`), on a PostgreSQL server of its own that the
 * scenario stops and starts again: the first test starts it, the last releases it. Run with
 * `deno test -A test/runtimes/deno/fault_test.ts` (part of `npm run test:deno`). A binding that
 * cannot be loaded fails its test.
 */
import { describeFaultOutcome, FAULT_SCENARIO_TIMEOUT_MS, runFaultScenario } from '../../binding/fault-scenario.ts';
import { startFaultServer, type FaultServer } from '../../binding/fault-server.ts';
import { bindingForTest, bindingsUnderTest } from '../bindings.ts';
import { register, within } from './deno-test.ts';

/** Starting (initdb) and stopping the private server can take a while on a busy machine. */
const SERVER_TIMEOUT_MS = 90_000;

let server: FaultServer | undefined;

register('start the fault-test server', () =>
  within(SERVER_TIMEOUT_MS, 'starting the fault-test server', async () => {
    server = await startFaultServer();
  }),
);

for (const name of bindingsUnderTest()) {
  const title = `${name} binding on deno survives a database restart mid-stream > completes 200 steps exactly once, losing no report`;
  register(title, () =>
    within(FAULT_SCENARIO_TIMEOUT_MS, title, async () => {
      if (server === undefined) throw new Error('the fault-test server did not start');
      console.log(describeFaultOutcome(name, 'deno', await runFaultScenario(await bindingForTest(name), server)));
    }),
  );
}

register('release the fault-test server', () =>
  within(SERVER_TIMEOUT_MS, 'releasing the fault-test server', async () => {
    await server?.release();
  }),
);
