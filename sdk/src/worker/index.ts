/** The worker runtime: `new Worker({ namespaces, handlers }).run()`. */
export { Worker, type WorkerState, type WorkerStats, type WorkerStopResult } from './worker.ts';
export { resolveWorkerOptions, type ResolvedWorkerOptions, type WorkerCoreTuning, type WorkerOptions } from './options.ts';
export type { StepFinishedEvent } from './events.ts';
export type { WorkerObserver } from './observer.ts';
export { onShutdownSignal } from './shutdown-signals.ts';
export { maxReportsInFlight } from './report-bound.ts';
