/**
 * Binding a server to its configured address, with an error that says which setting to change
 * when the port is taken, and the address actually bound (port 0 asks for any free port).
 */
import type { Server } from 'node:net';
import { TaskerError } from '../errors.ts';

/** Where a server listens. */
export interface ListenAddress {
  host: string;
  port: number;
}

/** A server that is listening. */
export interface RunningServer {
  address: ListenAddress;
  close(): Promise<void>;
}

/** What to bind, and the config key and variable that set it (for the error message). */
export interface ListenTarget {
  host: string;
  port: number;
  /** e.g. `worker.web.port (TASKER_WORKER_WEB_PORT)`. */
  setting: string;
  /** e.g. `worker REST server`. */
  what: string;
  /**
   * Told of an error the listening server emits later (EMFILE when accepting a connection, say).
   * Without a listener such an error would end the whole process, the worker's handlers with it.
   */
  onError: (error: Error) => void;
}

/** A server could not bind its address (taken, not permitted, no such interface). */
export class ServerListenError extends TaskerError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('SERVER_LISTEN_FAILED', message, options);
  }
}

export function listen(server: Server, target: ListenTarget): Promise<ListenAddress> {
  return new Promise((resolve, reject) => {
    const failed = (error: NodeJS.ErrnoException): void => {
      server.off('listening', listening);
      const reason =
        error.code === 'EADDRINUSE'
          ? `port ${target.port} is already in use: stop what holds it, or set ${target.setting} to another port (0: any free port)`
          : error.code === 'EACCES'
            ? `not permitted to bind port ${target.port}: use a port above 1023, or set ${target.setting}`
            : error.message;
      reject(new ServerListenError(`the ${target.what} cannot listen on ${target.host}:${target.port}: ${reason}`, { cause: error }));
    };
    const listening = (): void => {
      server.off('error', failed);
      server.on('error', (error) => target.onError(error));
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : target.port;
      resolve({ host: target.host, port });
    };
    server.once('error', failed);
    server.once('listening', listening);
    server.listen(target.port, target.host);
  });
}
