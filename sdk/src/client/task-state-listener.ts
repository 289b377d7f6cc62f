/**
 * One LISTEN connection on channel `tasker_task_state` per client, shared by every waitForTask
 * call. The database announces each task that reaches complete, error or cancelled; waiters are
 * woken by task id. When the connection drops, it reconnects with backoff and wakes every waiter
 * so each re-reads its task (a notification may have been missed while disconnected).
 */
import pg from 'pg';

const CHANNEL = 'tasker_task_state';
const RECONNECT_MIN_MS = 100;
const RECONNECT_MAX_MS = 5_000;

/** Called with the task id announced, or null when every waiter should look again. */
type Wake = (taskId: string | null) => void;

export class TaskStateListener {
  private client: pg.Client | undefined;
  private connecting: Promise<void> | undefined;
  private closed = false;
  private readonly subscribers = new Set<Wake>();
  private reconnectDelay = RECONNECT_MIN_MS;
  private reconnectTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(private readonly databaseUrl: string) {}

  /** Subscribes `wake`; resolves once the LISTEN is in place, so no later announcement is missed. */
  async subscribe(wake: Wake): Promise<() => void> {
    this.subscribers.add(wake);
    try {
      await this.ensureConnected();
    } catch (error) {
      this.subscribers.delete(wake);
      throw error;
    }
    return () => this.subscribers.delete(wake);
  }

  /** Closes the connection; waiters are woken to notice. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.reconnectTimer !== undefined) clearTimeout(this.reconnectTimer);
    const client = this.client;
    this.client = undefined;
    if (client !== undefined) {
      client.removeAllListeners('end');
      await client.end().catch(() => {});
    }
    this.wakeAll(null);
  }

  private ensureConnected(): Promise<void> {
    if (this.closed) return Promise.reject(new Error('the task state listener is closed'));
    if (this.client !== undefined) return Promise.resolve();
    this.connecting ??= this.connect().finally(() => {
      this.connecting = undefined;
    });
    return this.connecting;
  }

  private async connect(): Promise<void> {
    const client = new pg.Client({ connectionString: this.databaseUrl, application_name: 'tasker-client-listener', keepAlive: true });
    client.on('error', () => this.lost(client));
    client.on('end', () => this.lost(client));
    client.on('notification', (message) => {
      if (message.channel !== CHANNEL || message.payload === undefined) return;
      this.wakeAll(taskIdOf(message.payload));
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${CHANNEL}`);
    } catch (error) {
      client.removeAllListeners('end');
      await client.end().catch(() => {});
      throw error;
    }
    if (this.closed) {
      client.removeAllListeners('end');
      await client.end().catch(() => {});
      throw new Error('the task state listener is closed');
    }
    this.client = client;
    this.reconnectDelay = RECONNECT_MIN_MS;
  }

  private lost(client: pg.Client): void {
    if (this.client !== client) return;
    this.client = undefined;
    client.removeAllListeners('end');
    void client.end().catch(() => {});
    if (this.closed || this.subscribers.size === 0) return;
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (this.reconnectTimer !== undefined || this.closed) return;
    const delay = this.reconnectDelay;
    this.reconnectDelay = Math.min(RECONNECT_MAX_MS, this.reconnectDelay * 2);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      this.ensureConnected().then(
        () => this.wakeAll(null),
        () => {
          if (this.subscribers.size > 0) this.scheduleReconnect();
        },
      );
    }, delay);
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
