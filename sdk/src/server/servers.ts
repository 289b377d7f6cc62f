/**
 * Starts a service's REST and gRPC servers together. The gRPC server hosts tasker.v1.HealthService,
 * the standard grpc.health.v1.Health, and whatever else the service adds (the orchestrator's
 * TaskService). Either server may be off; if the second cannot start, the first is closed again,
 * so a failed start leaves no port taken.
 */
import type { ConnectRouter } from '@connectrpc/connect';
import { Health } from '../gen/grpc/health/v1/health_pb.ts';
import { HealthService } from '../gen/tasker/v1/health_pb.ts';
import { healthServiceImpl } from './grpc/health-service.ts';
import { standardHealthImpl } from './grpc/standard-health.ts';
import { startGrpcServer } from './grpc-server.ts';
import type { HealthSource } from './health-types.ts';
import type { ListenAddress, RunningServer } from './listen.ts';
import type { ServerListener } from './listener-settings.ts';
import { startRestServer } from './rest-server.ts';

/** Where a service's servers listen; null for a server that is off. */
export interface ServerAddresses {
  web: ListenAddress | null;
  grpc: ListenAddress | null;
}

/** `{ rest: 'host:port', grpc: 'host:port' }` for the `started` log line, which is how a parent process learns a port 0 choice. */
export function serverFields(addresses: ServerAddresses): Record<string, string> {
  const fields: Record<string, string> = {};
  if (addresses.web !== null) fields['rest'] = `${addresses.web.host}:${addresses.web.port}`;
  if (addresses.grpc !== null) fields['grpc'] = `${addresses.grpc.host}:${addresses.grpc.port}`;
  return fields;
}

export interface HealthServers {
  readonly addresses: ServerAddresses;
  close(): Promise<void>;
}

export interface StartServersOptions {
  source: HealthSource;
  web: ServerListener | undefined;
  grpc: ServerListener | undefined;
  /** The config section, for error messages: `worker` or `orchestration`. */
  section: 'worker' | 'orchestration';
  /** An error a listening server emitted (it keeps serving); `what` names the server. */
  onServerError: (error: Error, what: string) => void;
  /** More gRPC services, and their full names (for grpc.health.v1 checks by service name). */
  services?: { register: (router: ConnectRouter) => void; names: readonly string[] };
}

export async function startHealthServers(options: StartServersOptions): Promise<HealthServers> {
  const { source, web, grpc, section } = options;
  const closing = new AbortController();
  const variable = section.toUpperCase();
  // Names what to change when the port is taken; an instance's port is its base port + index.
  const setting = (protocol: 'web' | 'grpc', listener: ServerListener): string =>
    `${section}.${protocol}.port (TASKER_${variable}_${protocol.toUpperCase()}_PORT` +
    (listener.port === listener.basePort ? ')' : `; base ${listener.basePort} + instance index ${listener.instanceIndex})`);
  let rest: RunningServer | undefined;
  let rpc: RunningServer | undefined;
  try {
    if (web !== undefined) {
      rest = await startRestServer(source, {
        host: web.host,
        port: web.port,
        setting: setting('web', web),
        what: `${section} REST server`,
        onError: (error) => options.onServerError(error, `${section} REST server`),
      });
    }
    if (grpc !== undefined) {
      const names = [HealthService.typeName, ...(options.services?.names ?? [])];
      rpc = await startGrpcServer(
        (router) => {
          router.service(HealthService, healthServiceImpl(source));
          router.service(Health, standardHealthImpl(source, { services: names, closing: closing.signal }));
          options.services?.register(router);
        },
        {
          host: grpc.host,
          port: grpc.port,
          setting: setting('grpc', grpc),
          what: `${section} gRPC server`,
          onError: (error) => options.onServerError(error, `${section} gRPC server`),
        },
      );
    }
  } catch (error) {
    await rest?.close();
    throw error;
  }
  return {
    addresses: { web: rest?.address ?? null, grpc: rpc?.address ?? null },
    close: async () => {
      closing.abort();
      await Promise.all([rest?.close(), rpc?.close()]);
    },
  };
}
