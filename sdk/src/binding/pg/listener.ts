/**
 * The dedicated LISTEN connection of Hybrid and EventDrivenOnly: one pg.Client subscribed to
 * `tasker_queue_<namespace>` for every namespace. A notification's payload is the delay in ms
 * before the announced messages become visible: 0 rings the namespace's claim loop at once, a
 * delay schedules the ring for then (retries with backoff). Losing the connection is reported to
 * the core (onLost); the core's recovery calls ensureConnected() to subscribe again.
 */
import pg from 'pg';
import { quoteIdentifier } from '../../db/sql-identifier.ts';

const CHANNEL_PREFIX = 'tasker_queue_';
/** Timers may fire a little early on some runtimes; the messages must be visible by then. */
const DELAY_MARGIN_MS = 10;

export interface QueueListenerOptions {
  databaseUrl: string;
  namespaces: readonly string[];
  applicationName: string;
  /** Work is (or will be, after delayMs) waiting in `namespace`. */
  onWork(namespace: string): void;
  /** The connection broke. */
  onLost(error: unknown): void;
}

export class QueueListener {
  private client: pg.Client | undefined;
  private stopped = false;
  private readonly timers = new Set<ReturnType<typeof setTimeout>>();

  constructor(private readonly options: QueueListenerOptions) {}

  get connected(): boolean {
    return this.client !== undefined;
  }

  /** Connects and subscribes, unless already connected or closed. Throws when it cannot. */
  async ensureConnected(): Promise<void> {
    if (this.stopped || this.client !== undefined) return;
    const client = new pg.Client({
      connectionString: this.options.databaseUrl,
      application_name: this.options.applicationName,
      connectionTimeoutMillis: 5_000,
      keepAlive: true,
    });
    // Errors of a client we already gave up on must not crash the process.
    client.on('error', (error) => this.lost(client, error));
    client.on('end', () => this.lost(client, new Error('LISTEN connection ended')));
    client.on('notification', (message) => this.notified(message.channel, message.payload));
    try {
      await client.connect();
      for (const namespace of this.options.namespaces) {
        await client.query(`LISTEN ${quoteIdentifier(CHANNEL_PREFIX + namespace)}`);
      }
    } catch (error) {
      client.removeAllListeners('end');
      await client.end().catch(() => {});
      throw error;
    }
    if (this.stopped) {
      client.removeAllListeners('end');
      await client.end().catch(() => {});
      return;
    }
    this.client = client;
  }

  /** Unsubscribes, closes the connection and cancels scheduled wake-ups. */
  async close(): Promise<void> {
    this.stopped = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    const client = this.client;
    this.client = undefined;
    if (client !== undefined) {
      client.removeAllListeners('end');
      await client.end().catch(() => {});
    }
  }

  private lost(client: pg.Client, error: unknown): void {
    if (this.client !== client) return;
    this.client = undefined;
    client.removeAllListeners('end');
    client.end().catch(() => {});
    if (!this.stopped) this.options.onLost(error);
  }

  private notified(channel: string, payload: string | undefined): void {
    if (this.stopped || !channel.startsWith(CHANNEL_PREFIX)) return;
    const namespace = channel.slice(CHANNEL_PREFIX.length);
    const delayMs = Number(payload);
    if (!Number.isFinite(delayMs) || delayMs <= 0) {
      this.options.onWork(namespace);
      return;
    }
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      if (!this.stopped) this.options.onWork(namespace);
    }, delayMs + DELAY_MARGIN_MS);
    this.timers.add(timer);
  }
}
