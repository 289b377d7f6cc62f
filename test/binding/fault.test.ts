/**
 * The fault scenario (fault-scenario.ts) on Node under vitest, once per binding named by
 * TASKER_TEST_BINDINGS (default pg,napi,ffi), on a PostgreSQL server of its own that the scenario
 * stops and starts again. A binding that cannot be loaded fails its test: nothing is skipped.
 */
import { afterAll, beforeAll, describe, it } from 'vitest';
import { loadBinding } from '../../sdk/src/binding/select.ts';
import { bindingsUnderTest } from './bindings-under-test.ts';
import { describeFaultOutcome, FAULT_SCENARIO_TIMEOUT_MS, runFaultScenario } from './fault-scenario.ts';
import { startFaultServer, type FaultServer } from './fault-server.ts';

let server: FaultServer | undefined;

beforeAll(async () => {
  server = await startFaultServer();
}, 90_000);

afterAll(async () => {
  await server?.release();
}, 90_000);

describe.each(bindingsUnderTest())('%s binding survives a database restart mid-stream', (bindingName) => {
  it('completes 200 steps exactly once, losing no report', { timeout: FAULT_SCENARIO_TIMEOUT_MS }, async () => {
    if (server === undefined) throw new Error('the fault-test server did not start');
    const binding = await loadBinding(bindingName, { allowFallback: false });
    console.log(describeFaultOutcome(bindingName, 'node', await runFaultScenario(binding, server)));
  });
});
