/**
 * The dedicated LISTEN connection of Hybrid and EventDrivenOnly: one pg.Client subscribed to
 * `tasker_queue_<namespace>` for every namespace. A notification's payload is the delay in ms
 * before the announced messages become visible: 0 rings the namespace's claim loop at once, a
 * delay schedules the ring for then (retries with backoff). Losing the connection is reported to
 * the core (onLost); the core's recovery calls ensureConnected() to subscribe again.
 */
import { ListenConnection, ListenConnectionClosedError } from '../../db/listen-connection.ts';

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
  private stopped = false;
  private readonly timers = new Set<ReturnType<typeof setTimeout>>();
  private readonly connection: ListenConnection;

  constructor(private readonly options: QueueListenerOptions) {
    this.connection = new ListenConnection({
      databaseUrl: options.databaseUrl,
      applicationName: options.applicationName,
      channels: options.namespaces.map((namespace) => CHANNEL_PREFIX + namespace),
      onNotification: (channel, payload) => this.notified(channel, payload),
      onLost: (error) => options.onLost(error),
    });
  }

  get connected(): boolean {
    return this.connection.connected;
  }

  /** Connects and subscribes, unless already connected or closed. Throws when it cannot. */
  async ensureConnected(): Promise<void> {
    if (this.stopped) return;
    try {
      await this.connection.open();
    } catch (error) {
      if (error instanceof ListenConnectionClosedError) return;
      throw error;
    }
  }

  /** Unsubscribes, closes the connection and cancels scheduled wake-ups. */
  async close(): Promise<void> {
    this.stopped = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    await this.connection.close();
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
