/**
 * The event-driven orchestrator's LISTEN connection, on channels the SQL already notifies:
 * `tasker_queue_<namespace>` (steps enqueued: a task was created, successors or a retry were
 * enqueued; a claim, and so a lease, may follow), `tasker_task_state` (a task finished: the
 * expired leases of its steps become the lease sweep's to cancel) and `tasker_namespace` (a
 * namespace was registered: its queue channel must be listened to). Each notification asks the
 * orchestrator to read its due times again. A lost connection is reopened with backoff, and the
 * orchestrator is woken once it is back, since notifications sent meanwhile are lost.
 */
import { ListenConnection } from '../db/listen-connection.ts';

const TASK_STATE_CHANNEL = 'tasker_task_state';
const NAMESPACE_CHANNEL = 'tasker_namespace';
const QUEUE_CHANNEL_PREFIX = 'tasker_queue_';

export interface WakeListenerOptions {
  databaseUrl: string;
  /** Something may have become due sooner: read the due times again. */
  onWake(): void;
  /** The connection broke (logged by the orchestrator); it is reopened on its own. */
  onLost(error: unknown): void;
}

export class WakeListener {
  private readonly connection: ListenConnection;

  constructor(options: WakeListenerOptions) {
    this.connection = new ListenConnection({
      databaseUrl: options.databaseUrl,
      applicationName: 'tasker-orchestrator-listen',
      channels: [TASK_STATE_CHANNEL, NAMESPACE_CHANNEL],
      onNotification: () => options.onWake(),
      onLost: (error) => options.onLost(error),
      reconnect: { minMs: 250, maxMs: 30_000, onRestored: () => options.onWake() },
    });
  }

  /**
   * Connects and listens on tasker_task_state and tasker_namespace. A failure is reported
   * through onLost and retried with backoff, like a connection lost later: the sweeps must not
   * wait for it.
   */
  start(): Promise<void> {
    return this.connection.start();
  }

  /**
   * Listens on the queue channel of every namespace in `namespaces` not listened to yet.
   * Resolves true when it added any: the caller must read again, since a notification sent
   * before the LISTEN took effect was not heard. False too when disconnected (the reconnect
   * listens to them all, then wakes the orchestrator).
   */
  async listenTo(namespaces: readonly string[]): Promise<boolean> {
    let added = false;
    for (const namespace of namespaces) {
      if (await this.connection.listen(QUEUE_CHANNEL_PREFIX + namespace)) added = true;
    }
    return added;
  }

  close(): Promise<void> {
    return this.connection.close();
  }
}
