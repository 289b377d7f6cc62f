/** Entry point of the example worker on Deno: `deno run -A workers/src/entry/deno.ts`. */
import { runExampleWorker } from './run-example-worker.ts';

await runExampleWorker();
