/**
 * A TCP proxy in front of the test database that can delay the server's answers (all of them, or
 * only those containing a marker, keeping each connection's bytes in order), stall new
 * connections, or go silent: a network partition, where bytes and FINs are swallowed and nothing
 * is closed, which is what a cut network or a frozen host looks like to a client
 * (pg_terminate_backend and a stopped server both close connections, so they cannot show it);
 * and refuse new connections (a server that is down), or cut the open ones (a restart).
 */
import net from 'node:net';

export class DbProxy {
  /** Server → client bytes are held this long before being forwarded. */
  delayMs = 0;
  /** When set, only the server's chunks that contain this text are held (e.g. one function's answer). */
  delayOnly: string | undefined;
  /** How many chunks were held. */
  held = 0;
  /** New connections are accepted and never answered (a server that does not answer yet); open ones flow on. */
  stallNew = false;
  /** New connections are closed at once (a server that is down); open ones flow on. */
  refuseNew = false;
  /** What each stalled connection sent first (its startup packet names its application_name). */
  readonly stalledStartups: string[] = [];
  private readonly stalled = new Set<net.Socket>();
  private frozenFlag = false;
  private readonly sockets = new Set<net.Socket>();
  private constructor(
    private readonly server: net.Server,
    readonly port: number,
  ) {}

  static async start(targetUrl: string): Promise<DbProxy> {
    const target = new URL(targetUrl);
    const host = target.hostname;
    const targetPort = Number(target.port || 5432);
    let proxy!: DbProxy;
    const server = net.createServer({ allowHalfOpen: true }, (client) => proxy.accept(client, host, targetPort));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    proxy = new DbProxy(server, (server.address() as net.AddressInfo).port);
    return proxy;
  }

  /** The database URL through this proxy. */
  url(targetUrl: string): string {
    const url = new URL(targetUrl);
    url.hostname = '127.0.0.1';
    url.port = String(this.port);
    return url.toString();
  }

  /** Stalled connections (stallNew) their clients have not closed yet. */
  get stalledOpen(): number {
    return this.stalled.size;
  }

  /** From now on nothing gets through in either direction and nothing is closed (a partition). */
  freeze(): void {
    this.frozenFlag = true;
  }

  /** Ends the partition for new connections; those open during it stay dead (cut them with cutAll). */
  thaw(): void {
    this.frozenFlag = false;
  }

  /** Cuts every open connection (a restarted server) and goes on accepting new ones. */
  cutAll(): void {
    for (const socket of this.sockets) socket.destroy();
  }

  /** Cuts every connection (RST) and stops listening: whatever hangs on the partition ends. */
  async destroy(): Promise<void> {
    this.frozenFlag = true;
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(client: net.Socket, host: string, port: number): void {
    this.sockets.add(client);
    client.on('error', () => {});
    client.on('close', () => this.sockets.delete(client));
    if (this.refuseNew) {
      client.destroy();
      return;
    }
    if (this.frozenFlag) return; // accepted, never answered
    if (this.stallNew) {
      this.stalled.add(client);
      client.once('data', (chunk: Buffer) => this.stalledStartups.push(chunk.toString('latin1')));
      client.on('close', () => this.stalled.delete(client));
      // allowHalfOpen: the client's FIN alone would leave this side open.
      client.on('end', () => client.destroy());
      return;
    }
    const upstream = net.connect({ host, port, allowHalfOpen: true });
    this.sockets.add(upstream);
    upstream.on('error', () => client.destroy());
    upstream.on('close', () => this.sockets.delete(upstream));
    client.on('error', () => upstream.destroy());
    client.on('data', (chunk) => {
      if (!this.frozenFlag) upstream.write(chunk);
    });
    // Server → client, per connection and in order: a held chunk holds back everything after it
    // (`null` is the server's FIN).
    const queue: { at: number; chunk: Buffer | null }[] = [];
    let timer: ReturnType<typeof setTimeout> | undefined;
    const pump = (): void => {
      timer = undefined;
      while (queue.length > 0 && queue[0]!.at <= Date.now()) {
        const { chunk } = queue.shift()!;
        if (this.frozenFlag || client.destroyed) continue;
        if (chunk === null) client.end();
        else client.write(chunk);
      }
      if (queue.length > 0) timer = setTimeout(pump, Math.max(1, queue[0]!.at - Date.now()));
    };
    const forward = (chunk: Buffer | null): void => {
      if (this.frozenFlag) return;
      const held = this.delayMs > 0 && (this.delayOnly === undefined || (chunk !== null && chunk.includes(this.delayOnly)));
      if (held) this.held += 1;
      queue.push({ at: Date.now() + (held ? this.delayMs : 0), chunk });
      if (timer === undefined) pump();
    };
    upstream.on('data', (chunk: Buffer) => forward(chunk));
    upstream.on('end', () => forward(null));
    client.on('end', () => {
      if (!this.frozenFlag) upstream.end();
    });
  }
}
