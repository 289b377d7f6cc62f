/**
 * A Bun worker thread of bun.ts's pool: it opens the library itself (the same process-wide copy,
 * so handles are shared with the JS thread) and makes one blocking call at a time, answering
 * with the envelope text, read and freed here (bun-ffi.ts), so no pointer crosses threads.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { openWithBunFfi, type BunPointer, type BunTaskerLibrary } from './bun-ffi.ts';
import { cString } from './library.ts';

/** A blocking call, as bun.ts posts it. */
export type BunCallRequest =
  | { id: number; op: 'tasker_core_create'; json: string }
  | { id: number; op: 'tasker_core_next'; handle: number; max: number; timeoutMs: number }
  | { id: number; op: 'tasker_core_report'; handle: number; json: string }
  | { id: number; op: 'tasker_core_drain'; handle: number; timeoutMs: number }
  | { id: number; op: 'tasker_core_completions'; handle: number; max: number; timeoutMs: number };

/**
 * The answer to one request: the envelope text; or `null` when the function returned NULL (a
 * broken C ABI, reported by bun.ts as envelope.ts does); or a failure to open or call the library.
 */
export type BunCallResponse = { id: number; text: string | null } | { id: number; failure: string };

/** What bun.ts passes as `workerData`. */
export interface BunCallWorkerData {
  path: string;
}

const port = parentPort;
if (port === null) throw new Error('bun-call-worker.ts runs as a worker thread of bun.ts');
const opening = openWithBunFfi((workerData as BunCallWorkerData).path);

port.on('message', (request: BunCallRequest) => {
  opening.then(
    (library) => {
      let response: BunCallResponse;
      try {
        const pointer = call(library, request);
        response = { id: request.id, text: pointer === null || pointer === 0 ? null : library.take(pointer, request.op) };
      } catch (error) {
        response = { id: request.id, failure: error instanceof Error ? error.message : String(error) };
      }
      port.postMessage(response);
    },
    (error: unknown) => port.postMessage({ id: request.id, failure: error instanceof Error ? error.message : String(error) } satisfies BunCallResponse),
  );
});

function call({ symbols, completion }: BunTaskerLibrary, request: BunCallRequest): BunPointer | null {
  switch (request.op) {
    case 'tasker_core_create':
      return symbols.tasker_core_create(cString(request.json));
    case 'tasker_core_next':
      return symbols.tasker_core_next(request.handle, request.max, request.timeoutMs);
    case 'tasker_core_report':
      return symbols.tasker_core_report(request.handle, cString(request.json));
    case 'tasker_core_drain':
      return symbols.tasker_core_drain(request.handle, request.timeoutMs);
    case 'tasker_core_completions':
      if (completion === undefined) throw new Error('the library has no tasker_core_completions');
      return completion.tasker_core_completions(request.handle, request.max, request.timeoutMs);
  }
}
