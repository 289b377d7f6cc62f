/**
 * A conformance worker as a child process of its cell's runtime: started with TASKER_BINDING
 * set, checked to be running the runtime and binding it was asked for, its events collected,
 * its log written to a file (named in every error), and stopped with SIGTERM (a clean drain must
 * exit 0) or killed with SIGKILL.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';
import { join } from 'node:path';
import type { Cell } from './cells.ts';
import { PROJECT_ROOT, workerCommand } from './cells.ts';
import { EVENT_PREFIX, WORKER_SPEC_ENV, type WorkerCommand, type WorkerEvent, type WorkerSpec } from '../worker/messages.ts';

type ReportEvent = Extract<WorkerEvent, { type: 'report' }>;
type StartedEvent = Extract<WorkerEvent, { type: 'started' }>;

/** How a worker process ended: its exit code, or the signal that killed it. */
export type WorkerExit = number | NodeJS.Signals;

/** Options of {@link startWorkerProcess}. */
export interface StartWorkerOptions {
  cell: Cell;
  /** `main`, or the scenario's name for the worker; names the log file. */
  role: string;
  spec: WorkerSpec;
  databaseUrl: string;
  logDir: string;
  /** Passed as TASKER_CONFORMANCE_SABOTAGE (this worker only). */
  sabotage?: string;
  startTimeoutMs?: number;
}

/** A running conformance worker. */
export class WorkerProcess {
  readonly reports: ReportEvent[] = [];
  readonly exited: Promise<WorkerExit>;
  exit: WorkerExit | undefined;
  started: StartedEvent | undefined;
  private readonly listeners = new Set<() => void>();
  /** The last lines the process wrote to stderr, quoted when it dies before starting. */
  private stderrTail = '';

  constructor(
    readonly role: string,
    readonly cell: Cell,
    readonly logFile: string,
    private readonly child: ChildProcess,
    log: WriteStream,
  ) {
    this.exited = new Promise<WorkerExit>((resolve) => {
      child.once('exit', (code, signal) => {
        this.exit = signal ?? code ?? 1;
        log.end();
        this.notify();
        resolve(this.exit);
      });
      child.once('error', (error) => {
        log.write(`[conformance runner] cannot start the worker: ${error.message}\n`);
        this.exit = 127;
        log.end();
        this.notify();
        resolve(127);
      });
    });
    // A command written after the process died must not crash the runner (EPIPE).
    child.stdin?.on('error', () => {});
    let pending = '';
    child.stdout?.setEncoding('utf8');
    child.stdout?.on('data', (chunk: string) => {
      pending += chunk;
      let newline = pending.indexOf('\n');
      while (newline >= 0) {
        const line = pending.slice(0, newline);
        pending = pending.slice(newline + 1);
        newline = pending.indexOf('\n');
        if (line.startsWith(EVENT_PREFIX)) this.receive(JSON.parse(line.slice(EVENT_PREFIX.length)) as WorkerEvent);
        else log.write(`${line}\n`);
      }
    });
    child.stderr?.on('data', (chunk: Buffer) => {
      log.write(chunk);
      this.stderrTail = (this.stderrTail + chunk.toString('utf8')).slice(-4_096);
    });
  }

  /** The worker id it records as the actor of its transitions. */
  get workerId(): string {
    if (this.started === undefined) throw new Error(`the ${this.role} worker of ${this.cell.id} has not started`);
    return this.started.workerId;
  }

  /** Why the process said it cannot run: its `[conformance worker] cannot run:` line, if any. */
  get lastWords(): string | undefined {
    return /\[conformance worker\] cannot run: ([^\n]*)/.exec(this.stderrTail)?.[1];
  }

  /** Opens a gate in this process. */
  send(command: WorkerCommand): void {
    this.child.stdin?.write(`${JSON.stringify(command)}\n`);
  }

  /** Resolves when `check` holds (checked on every event), rejects at the deadline or when the process ends first. */
  async until(check: () => boolean, what: string, deadline: number): Promise<void> {
    if (check()) return;
    await new Promise<void>((resolve, reject) => {
      const done = (): void => {
        clearTimeout(timer);
        this.listeners.delete(listener);
      };
      const listener = (): void => {
        if (check()) {
          done();
          resolve();
        } else if (this.exit !== undefined) {
          done();
          const words = this.lastWords;
          reject(
            new Error(
              `the ${this.role} worker of ${this.cell.id} exited (${String(this.exit)}) before ${what}` +
                `${words === undefined ? '' : `: ${words}`}; see ${this.logFile}`,
            ),
          );
        }
      };
      const timer = setTimeout(() => {
        this.listeners.delete(listener);
        reject(new Error(`timed out waiting for the ${this.role} worker of ${this.cell.id}: ${what}; see ${this.logFile}`));
      }, Math.max(0, deadline - Date.now()));
      this.listeners.add(listener);
      listener();
    });
  }

  /** SIGTERM, then the exit; SIGKILL after `timeoutMs`. */
  async stop(timeoutMs = 20_000): Promise<WorkerExit> {
    if (this.exit !== undefined) return this.exit;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }

  /** SIGKILL: no drain, no report, leases left to expire. */
  async kill(): Promise<WorkerExit> {
    if (this.exit === undefined) this.child.kill('SIGKILL');
    return this.exited;
  }

  private receive(event: WorkerEvent): void {
    if (event.type === 'started') this.started = event;
    else if (event.type === 'report') this.reports.push(event);
    this.notify();
  }

  private notify(): void {
    for (const listener of [...this.listeners]) listener();
  }
}

/**
 * Starts a worker on the cell's runtime and binding and resolves once it runs, after checking
 * that the runtime and binding it reports are the ones asked for. Rejects, naming the log file,
 * when it exits first or does not start in time: a missing runtime or native build fails loudly.
 */
export async function startWorkerProcess(options: StartWorkerOptions): Promise<WorkerProcess> {
  const { cell, role, spec } = options;
  const { command, args } = workerCommand(cell.runtime);
  const logFile = join(options.logDir, `${cell.runtime}-${cell.binding}-${role}.log`);
  const log = createWriteStream(logFile);
  const env: Record<string, string | undefined> = {
    ...process.env,
    DATABASE_URL: options.databaseUrl,
    TASKER_BINDING: cell.binding,
    [WORKER_SPEC_ENV]: JSON.stringify(spec),
  };
  // Inherited settings must not change what a cell runs: no fallback to pg, sabotage only where asked.
  delete env.TASKER_BINDING_FALLBACK;
  delete env.TASKER_CONFORMANCE_SABOTAGE;
  if (options.sabotage !== undefined) env.TASKER_CONFORMANCE_SABOTAGE = options.sabotage;
  const child = spawn(command, args, { cwd: PROJECT_ROOT, env, stdio: ['pipe', 'pipe', 'pipe'] });
  const worker = new WorkerProcess(role, cell, logFile, child, log);
  const deadline = Date.now() + (options.startTimeoutMs ?? 60_000);
  try {
    await worker.until(() => worker.started !== undefined, 'it started', deadline);
  } catch (error) {
    if (worker.exit === undefined) await worker.kill();
    throw error;
  }
  const started = worker.started;
  if (started?.runtime !== cell.runtime || started.binding !== cell.binding) {
    await worker.stop();
    throw new Error(
      `the ${role} worker of ${cell.id} runs ${String(started?.runtime)}/${String(started?.binding)}, not ${cell.id}; see ${logFile}`,
    );
  }
  return worker;
}
