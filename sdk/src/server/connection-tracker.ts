/**
 * The open connections of a server, so closing it does not wait on clients: an idle keep-alive
 * connection or a gRPC health Watch stream would otherwise hold server.close() open forever.
 */
import type { Server, Socket } from 'node:net';

export class ConnectionTracker {
  private readonly sockets = new Set<Socket>();

  /** Call with every accepted socket. */
  add(socket: Socket): void {
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
  }

  /**
   * Stops accepting, gives open connections up to `graceMs` to finish what they are sending, then
   * destroys the rest. Resolves once the server has closed.
   */
  async close(server: Server, graceMs: number): Promise<void> {
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    const deadline = Date.now() + graceMs;
    while (this.sockets.size > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    for (const socket of this.sockets) socket.destroy();
    await closed;
  }
}
