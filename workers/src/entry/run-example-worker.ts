/**
 * The example worker every runtime's entry point runs: all example handlers, all example
 * namespaces, settings from the environment (DATABASE_URL, TASKER_BINDING, ...). Exits 0 after a
 * clean drain on SIGTERM/SIGINT, 1 when it cannot start.
 */
import { Worker, type WorkerOptions } from '@tasker/sdk';
import { EXAMPLE_NAMESPACES, exampleHandlers } from '../apps/index.ts';

/** Runs the example worker until a signal stops it, then exits the process. */
export async function runExampleWorker(overrides: Partial<WorkerOptions> = {}): Promise<never> {
  const concurrency = Number(process.env.TASKER_WORKER_CONCURRENCY ?? '10');
  try {
    const worker = new Worker({ namespaces: EXAMPLE_NAMESPACES, handlers: exampleHandlers, concurrency, ...overrides });
    await worker.run();
    process.exit(0);
  } catch (error) {
    console.error(`[ERROR] the example worker stopped: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  }
}
