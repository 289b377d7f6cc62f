/**
 * A TCP proxy in front of the test database that delays only the server's answers whose bytes
 * contain a marker (e.g. `stepState`, which only report_and_claim's rendered ReportResult holds),
 * keeping every connection's bytes in order: one connection's report answer is late while the
 * other connections (claims, heartbeats) flow on at once.
 */
import net from 'node:net';

export class SelectiveProxy {
  /** Server → client chunks containing this text are held `delayMs`. */
  marker = 'stepState';
  delayMs = 0;
  /** How many chunks were held. */
  held = 0;
  private readonly sockets = new Set<net.Socket>();
  private constructor(
    private readonly server: net.Server,
    readonly port: number,
  ) {}

  static async start(targetUrl: string): Promise<SelectiveProxy> {
    const target = new URL(targetUrl);
    let proxy!: SelectiveProxy;
    const server = net.createServer((client) => proxy.accept(client, target.hostname, Number(target.port || 5432)));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    proxy = new SelectiveProxy(server, (server.address() as net.AddressInfo).port);
    return proxy;
  }

  url(targetUrl: string): string {
    const url = new URL(targetUrl);
    url.hostname = '127.0.0.1';
    url.port = String(this.port);
    return url.toString();
  }

  async destroy(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(client: net.Socket, host: string, port: number): void {
    this.sockets.add(client);
    const upstream = net.connect({ host, port });
    this.sockets.add(upstream);
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
    client.on('close', () => {
      this.sockets.delete(client);
      upstream.destroy();
    });
    upstream.on('close', () => {
      this.sockets.delete(upstream);
      client.destroy();
    });
    client.on('data', (chunk) => upstream.write(chunk));
    // Per connection, in order: a held chunk holds back every chunk after it.
    const queue: { at: number; chunk: Buffer }[] = [];
    let timer: NodeJS.Timeout | undefined;
    const pump = (): void => {
      timer = undefined;
      while (queue.length > 0 && queue[0]!.at <= Date.now()) {
        const { chunk } = queue.shift()!;
        if (!client.destroyed) client.write(chunk);
      }
      if (queue.length > 0) timer = setTimeout(pump, Math.max(1, queue[0]!.at - Date.now()));
    };
    upstream.on('data', (chunk: Buffer) => {
      let at = Date.now();
      if (this.delayMs > 0 && chunk.includes(this.marker)) {
        at += this.delayMs;
        this.held += 1;
      }
      queue.push({ at, chunk });
      if (timer === undefined) pump();
    });
  }
}
