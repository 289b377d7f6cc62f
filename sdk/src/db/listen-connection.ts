/**
 * A dedicated LISTEN connection: one pg.Client subscribed to a set of channels, which reports
 * every notification and the loss of the connection. A notification sent while the connection is
 * down is lost for good, so whoever reopens it must look again at what it was waiting for. The
 * client's task-state listener, the orchestrator's wake listener and the `pg` binding's queue
 * listener are each one of these; the first two reopen themselves with backoff (`reconnect`), the
 * binding's core reopens its own when its recovery probe succeeds.
 */
import pg from 'pg';
import { TaskerError } from '../errors.ts';
import { quoteIdentifier } from './sql-identifier.ts';

/** How a connection that reopens itself waits between attempts: doubling from minMs to maxMs. */
export interface ReconnectPolicy {
  minMs: number;
  maxMs: number;
  /** Listening again after a loss (or a failed first open): look again at what was awaited. */
  onRestored(): void;
  /** Asked before each attempt after a loss; false leaves the connection closed until open(). Default: always. */
  wanted?(): boolean;
}

export interface ListenConnectionOptions {
  databaseUrl: string;
  applicationName: string;
  /** Channels to listen on from the first open; listen() adds more. */
  channels: Iterable<string>;
  onNotification(channel: string, payload: string | undefined): void;
  /** The connection broke (or start() could not open it); attempts to reopen it are not reported. */
  onLost(error: unknown): void;
  /** Reopen after a loss, with backoff. Without it the connection stays closed until open(). */
  reconnect?: ReconnectPolicy;
}

/** The connection was closed (close()) while it was being opened, or open() came after close(). */
export class ListenConnectionClosedError extends TaskerError {
  constructor() {
    super('LISTEN_CONNECTION_CLOSED', 'the LISTEN connection is closed');
  }
}

export class ListenConnection {
  private client: pg.Client | undefined;
  private opening: Promise<void> | undefined;
  /** Ends the connection attempt under way (close()). */
  private abortConnect: (() => void) | undefined;
  private closed = false;
  private readonly channels: Set<string>;
  private reconnectDelay: number;
  private reconnectTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(private readonly options: ListenConnectionOptions) {
    this.channels = new Set(options.channels);
    this.reconnectDelay = options.reconnect?.minMs ?? 0;
  }

  get connected(): boolean {
    return this.client !== undefined;
  }

  /**
   * Connects and listens on every channel, unless already connected; concurrent calls share one
   * attempt. Rejects when it cannot (ListenConnectionClosedError after close()).
   */
  open(): Promise<void> {
    if (this.closed) return Promise.reject(new ListenConnectionClosedError());
    if (this.client !== undefined) return Promise.resolve();
    this.opening ??= this.connect().finally(() => {
      this.opening = undefined;
    });
    return this.opening;
  }

  /**
   * open(), and with `reconnect` a failure is reported through onLost and retried with backoff
   * like a later loss, so the caller need not wait for the database.
   */
  async start(): Promise<void> {
    try {
      await this.open();
    } catch (error) {
      if (this.closed) return;
      this.options.onLost(error);
      this.scheduleReconnect();
    }
  }

  /**
   * Adds a channel. Resolves true when it was listened to now: a notification sent before then
   * was not heard, so the caller should look again. False when it was already listened to, or
   * while disconnected (the next open listens to it).
   */
  async listen(channel: string): Promise<boolean> {
    if (this.channels.has(channel)) return false;
    this.channels.add(channel);
    const client = this.client;
    if (client === undefined) return false;
    await client.query(`LISTEN ${quoteIdentifier(channel)}`);
    return true;
  }

  /**
   * Closes the connection, cancels a pending reconnect and abandons a connection being opened, so
   * nothing of it is left when this resolves; open() rejects from now on.
   */
  async close(): Promise<void> {
    this.closed = true;
    if (this.reconnectTimer !== undefined) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
    const client = this.client;
    this.client = undefined;
    this.abortConnect?.();
    if (client !== undefined) await release(client);
    await this.opening?.catch(() => {});
  }

  private async connect(): Promise<void> {
    const client = new pg.Client({
      connectionString: this.options.databaseUrl,
      application_name: this.options.applicationName,
      connectionTimeoutMillis: 5_000,
      keepAlive: true,
    });
    // Errors of a client already given up on must not crash the process.
    client.on('error', (error) => this.lost(client, error));
    client.on('end', () => this.lost(client, new Error('LISTEN connection ended')));
    client.on('notification', (message) => {
      if (!this.closed) this.options.onNotification(message.channel, message.payload);
    });
    // close() abandons the attempt: pg's connect() never settles once its client is ended
    // mid-connect, so the attempt is raced against close() instead of awaited alone.
    const abandoned = new Promise<never>((_resolve, reject) => {
      this.abortConnect = () => reject(new ListenConnectionClosedError());
    });
    try {
      await Promise.race([
        (async () => {
          await client.connect();
          for (const channel of this.channels) await client.query(`LISTEN ${quoteIdentifier(channel)}`);
        })(),
        abandoned,
      ]);
    } catch (error) {
      await release(client);
      throw this.closed ? new ListenConnectionClosedError() : error;
    } finally {
      this.abortConnect = undefined;
    }
    if (this.closed) {
      await release(client);
      throw new ListenConnectionClosedError();
    }
    this.client = client;
    this.reconnectDelay = this.options.reconnect?.minMs ?? 0;
  }

  private lost(client: pg.Client, error: unknown): void {
    if (this.client !== client) return;
    this.client = undefined;
    void release(client);
    if (this.closed) return;
    this.options.onLost(error);
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    const policy = this.options.reconnect;
    if (policy === undefined || this.reconnectTimer !== undefined || this.closed) return;
    if (policy.wanted !== undefined && !policy.wanted()) return;
    const delay = this.reconnectDelay;
    this.reconnectDelay = Math.min(policy.maxMs, this.reconnectDelay * 2);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      if (policy.wanted !== undefined && !policy.wanted()) return;
      this.open().then(
        () => {
          if (!this.closed) policy.onRestored();
        },
        () => this.scheduleReconnect(),
      );
    }, delay);
  }
}

/** How long end() may wait for the server's goodbye before the socket is dropped. */
const RELEASE_GRACE_MS = 1_000;

/**
 * Ends a client without reacting to its 'end' again, within RELEASE_GRACE_MS: end() waits for the
 * server to close its side, which a server that stopped answering (a cut network) never does, so
 * a close would hang and the socket keep the process alive.
 */
async function release(client: pg.Client): Promise<void> {
  client.removeAllListeners('end');
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timedOut = await Promise.race([
    client.end().then(
      () => false,
      () => false,
    ),
    new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(true), RELEASE_GRACE_MS);
    }),
  ]);
  clearTimeout(timer);
  if (timedOut) dropSocket(client);
}

/** pg has no public way to drop a connection; its socket is `connection.stream` (pg 8). */
function dropSocket(client: pg.Client): void {
  const connection: unknown = Reflect.get(client, 'connection');
  const stream: unknown = typeof connection === 'object' && connection !== null ? Reflect.get(connection, 'stream') : undefined;
  if (typeof stream === 'object' && stream !== null && 'destroy' in stream && typeof stream.destroy === 'function') {
    (stream.destroy as () => void).call(stream);
  }
}
