/**
 * The event-driven orchestrator's LISTEN connection, on channels the SQL already notifies:
 * `tasker_queue_<namespace>` (steps enqueued: a task was created, successors or a retry were
 * enqueued; a claim, and so a lease, may follow), `tasker_task_state` (a task finished: the
 * expired leases of its steps become the lease sweep's to cancel) and `tasker_namespace` (a
 * namespace was registered: its queue channel must be listened to). Each notification asks the
 * orchestrator to read its due times again. A lost connection is reopened with backoff, and the
 * orchestrator is woken once it is back, since notifications sent meanwhile are lost.
 */
import pg from 'pg';
import { quoteIdentifier } from '../db/sql-identifier.ts';

const TASK_STATE_CHANNEL = 'tasker_task_state';
const NAMESPACE_CHANNEL = 'tasker_namespace';
const QUEUE_CHANNEL_PREFIX = 'tasker_queue_';
const RECONNECT_MIN_MS = 250;
const RECONNECT_MAX_MS = 30_000;

export interface WakeListenerOptions {
  databaseUrl: string;
  /** Something may have become due sooner: read the due times again. */
  onWake(): void;
  /** The connection broke (logged by the orchestrator); it is reopened on its own. */
  onLost(error: unknown): void;
}

export class WakeListener {
  private client: pg.Client | undefined;
  private closed = false;
  private readonly listening = new Set<string>();
  private reconnectDelay = RECONNECT_MIN_MS;
  private reconnectTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(private readonly options: WakeListenerOptions) {}

  /**
   * Connects and listens on tasker_task_state and tasker_namespace. A failure is reported
   * through onLost and retried with backoff, like a connection lost later: the sweeps must not
   * wait for it.
   */
  async start(): Promise<void> {
    try {
      await this.connect();
    } catch (error) {
      this.options.onLost(error);
      this.scheduleReconnect();
    }
  }

  /**
   * Listens on the queue channel of every namespace in `namespaces` not listened to yet.
   * Resolves true when it added any: the caller must read again, since a notification sent
   * before the LISTEN took effect was not heard. False too when disconnected (the reconnect
   * listens to them all, then wakes the orchestrator).
   */
  async listenTo(namespaces: readonly string[]): Promise<boolean> {
    const client = this.client;
    let added = false;
    for (const namespace of namespaces) {
      if (this.listening.has(namespace)) continue;
      this.listening.add(namespace);
      if (client === undefined) continue;
      await client.query(`LISTEN ${quoteIdentifier(QUEUE_CHANNEL_PREFIX + namespace)}`);
      added = true;
    }
    return added;
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.reconnectTimer !== undefined) clearTimeout(this.reconnectTimer);
    const client = this.client;
    this.client = undefined;
    if (client !== undefined) {
      client.removeAllListeners('end');
      await client.end().catch(() => {});
    }
  }

  private async connect(): Promise<void> {
    const client = new pg.Client({
      connectionString: this.options.databaseUrl,
      application_name: 'tasker-orchestrator-listen',
      connectionTimeoutMillis: 5_000,
      keepAlive: true,
    });
    // Errors of a client already given up on must not crash the process.
    client.on('error', (error) => this.lost(client, error));
    client.on('end', () => this.lost(client, new Error('LISTEN connection ended')));
    client.on('notification', () => {
      if (!this.closed) this.options.onWake();
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${TASK_STATE_CHANNEL}`);
      await client.query(`LISTEN ${NAMESPACE_CHANNEL}`);
      for (const namespace of this.listening) await client.query(`LISTEN ${quoteIdentifier(QUEUE_CHANNEL_PREFIX + namespace)}`);
    } catch (error) {
      client.removeAllListeners('end');
      await client.end().catch(() => {});
      throw error;
    }
    if (this.closed) {
      client.removeAllListeners('end');
      await client.end().catch(() => {});
      return;
    }
    this.client = client;
    this.reconnectDelay = RECONNECT_MIN_MS;
  }

  private lost(client: pg.Client, error: unknown): void {
    if (this.client !== client) return;
    this.client = undefined;
    client.removeAllListeners('end');
    client.end().catch(() => {});
    if (this.closed) return;
    this.options.onLost(error);
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (this.reconnectTimer !== undefined || this.closed) return;
    const delay = this.reconnectDelay;
    this.reconnectDelay = Math.min(RECONNECT_MAX_MS, this.reconnectDelay * 2);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      this.connect().then(
        () => {
          if (!this.closed) this.options.onWake();
        },
        () => this.scheduleReconnect(),
      );
    }, delay);
  }
}
