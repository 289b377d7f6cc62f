/**
 * One LISTEN connection on channel `tasker_task_state` per client, shared by every waitForTask
 * call. The database announces each task that reaches complete, error or cancelled; waiters are
 * woken by task id. When the connection drops while anyone waits, it reconnects with backoff and
 * wakes every waiter so each re-reads its task (a notification may have been missed meanwhile).
 */
import { ListenConnection, ListenConnectionClosedError } from '../db/listen-connection.ts';
import { ClientClosedError } from './errors.ts';

const CHANNEL = 'tasker_task_state';

/** Called with the task id announced, or null when every waiter should look again. */
type Wake = (taskId: string | null) => void;

export class TaskStateListener {
  private readonly subscribers = new Set<Wake>();
  private readonly connection: ListenConnection;

  constructor(databaseUrl: string) {
    this.connection = new ListenConnection({
      databaseUrl,
      applicationName: 'tasker-client-listener',
      channels: [CHANNEL],
      onNotification: (channel, payload) => {
        if (channel === CHANNEL && payload !== undefined) this.wakeAll(taskIdOf(payload));
      },
      // Nothing to report: waitForTask's callers see a reconnect only as a waiter woken to look again.
      onLost: () => {},
      reconnect: { minMs: 100, maxMs: 5_000, onRestored: () => this.wakeAll(null), wanted: () => this.subscribers.size > 0 },
    });
  }

  /** Subscribes `wake`; resolves once the LISTEN is in place, so no later announcement is missed. */
  async subscribe(wake: Wake): Promise<() => void> {
    this.subscribers.add(wake);
    try {
      await this.connection.open();
    } catch (error) {
      this.subscribers.delete(wake);
      // Closed only by the client's close(), which may run while a waitForTask is starting.
      throw error instanceof ListenConnectionClosedError ? new ClientClosedError() : error;
    }
    return () => this.subscribers.delete(wake);
  }

  /** Closes the connection; waiters are woken to notice. */
  async close(): Promise<void> {
    await this.connection.close();
    this.wakeAll(null);
  }

  private wakeAll(taskId: string | null): void {
    for (const wake of [...this.subscribers]) wake(taskId);
  }
}

function taskIdOf(payload: string): string | null {
  try {
    const parsed: unknown = JSON.parse(payload);
    if (typeof parsed === 'object' && parsed !== null && typeof (parsed as { task_id?: unknown }).task_id === 'string') {
      return (parsed as { task_id: string }).task_id;
    }
  } catch {
    // A payload we do not understand: let every waiter look.
  }
  return null;
}
