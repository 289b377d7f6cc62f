/** Entry point of the example worker on Node: `node workers/dist/entry/node.js`. */
import { runExampleWorker } from './run-example-worker.ts';

await runExampleWorker();
