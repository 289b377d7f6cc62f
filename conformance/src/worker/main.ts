/**
 * The conformance worker process, the same file on every runtime: `node
 * conformance/dist/worker/main.js`, `bun conformance/src/worker/main.ts`, `deno run -A
 * conformance/src/worker/main.ts`. It runs the SDK's real Worker with the binding TASKER_BINDING
 * names (no fallback) and every conformance handler, tells the runner what it reports, and opens
 * gates when the runner says so. SIGTERM drains it; it exits 0 after a clean drain, 1 when it
 * cannot start.
 */
import { Worker, onShutdownSignal, type HandlerDefinition, type LogRecord } from '@tasker/sdk';
import { conformanceHandlers, GateBook } from '../handlers/index.ts';
import { dropDependencyResult, workerSabotage } from '../handlers/sabotage.ts';
import { EVENT_PREFIX, WORKER_SPEC_ENV, type WorkerCommand, type WorkerEvent, type WorkerSpec } from './messages.ts';

function emit(event: WorkerEvent): void {
  process.stdout.write(`${EVENT_PREFIX}${JSON.stringify(event)}\n`);
}

function writeLog(record: LogRecord): void {
  process.stderr.write(`${JSON.stringify(record)}\n`);
}

function readSpec(): WorkerSpec {
  const text = process.env[WORKER_SPEC_ENV];
  if (text === undefined || text === '') throw new Error(`${WORKER_SPEC_ENV} is not set; the conformance runner starts this process`);
  return JSON.parse(text) as WorkerSpec;
}

/** Applies each JSON line on stdin as a command. */
function listenForCommands(gates: GateBook): void {
  let buffered = '';
  process.stdin.setEncoding('utf8');
  process.stdin.on('data', (chunk: string) => {
    buffered += chunk;
    let newline = buffered.indexOf('\n');
    while (newline >= 0) {
      const line = buffered.slice(0, newline).trim();
      buffered = buffered.slice(newline + 1);
      newline = buffered.indexOf('\n');
      if (line === '') continue;
      const command = JSON.parse(line) as WorkerCommand;
      if (command.type === 'open') gates.open(command.key);
    }
  });
}

async function main(): Promise<void> {
  const spec = readSpec();
  const sabotage = workerSabotage(process.env.TASKER_CONFORMANCE_SABOTAGE);
  const gates = new GateBook();
  const handlers: HandlerDefinition[] = conformanceHandlers(gates).map((handler) =>
    sabotage === 'drop-dependency-result' ? dropDependencyResult(handler) : handler,
  );
  const worker = new Worker({
    namespaces: spec.namespaces,
    handlers,
    concurrency: spec.concurrency,
    // A missing native build must fail this cell, never quietly run it on pg.
    allowBindingFallback: false,
    handleSignals: false,
    shutdownGraceMs: 10_000,
    logWriter: writeLog,
    ...(spec.mode === undefined ? {} : { mode: spec.mode }),
    ...(spec.core === undefined ? {} : { core: spec.core }),
    onStepFinished: (event) =>
      emit({
        type: 'report',
        namespace: event.step.namespace,
        taskId: event.step.taskId,
        stepName: event.step.stepName,
        attempt: event.report.attempt,
        delivery: event.report.delivery,
        outcome: event.report.outcome,
        kind: typeof event.report.error?.['kind'] === 'string' ? event.report.error['kind'] : null,
        accepted: event.result?.accepted ?? null,
        reason: event.result?.reason ?? null,
      }),
  });
  listenForCommands(gates);
  await worker.start();
  const stats = worker.stats();
  emit({ type: 'started', workerId: worker.workerId, runtime: stats.runtime, binding: stats.binding, pid: process.pid, sabotage: sabotage ?? null });
  const unsubscribe = onShutdownSignal(() => void worker.stop());
  await worker.whenStopped();
  unsubscribe();
  const { succeeded, retried, failed, rejected, abandoned } = worker.stats();
  emit({ type: 'stopped', stats: { succeeded, retried, failed, rejected, abandoned } });
}

try {
  await main();
  process.exit(0);
} catch (error) {
  process.stderr.write(`[conformance worker] cannot run: ${error instanceof Error ? error.stack ?? error.message : String(error)}\n`);
  process.exit(1);
}
