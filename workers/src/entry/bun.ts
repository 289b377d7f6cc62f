/** Entry point of the example worker on Bun: `bun workers/src/entry/bun.ts`. */
import { runExampleWorker } from './run-example-worker.ts';

await runExampleWorker();
