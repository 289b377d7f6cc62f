/**
 * The clients the health tests talk through, each a real one: `@grpc/grpc-js` (the reference
 * gRPC implementation, over HTTP/2) for the standard health protocol, connect-node's gRPC,
 * gRPC-Web and Connect transports for the tasker.v1 services, and fetch for REST.
 */
import { fromBinary, toBinary, create } from '@bufbuild/protobuf';
import { createClient, type Client } from '@connectrpc/connect';
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from '@connectrpc/connect-node';
import grpc from '@grpc/grpc-js';
import {
  HealthCheckRequestSchema,
  HealthCheckResponseSchema,
  HealthCheckResponse_ServingStatus as ServingStatus,
} from '../../sdk/src/gen/grpc/health/v1/health_pb.ts';
import { HealthService } from '../../sdk/src/gen/tasker/v1/health_pb.ts';
import { TaskService } from '../../sdk/src/gen/tasker/v1/tasks_pb.ts';

export { ServingStatus };

/** The three wire protocols one gRPC port serves, with the HTTP version each client uses. */
export type Wire = 'grpc' | 'grpc-web' | 'connect-h1' | 'connect-h2';
export const WIRES: readonly Wire[] = ['grpc', 'grpc-web', 'connect-h1', 'connect-h2'];

function transport(wire: Wire, port: number) {
  const baseUrl = `http://127.0.0.1:${port}`;
  switch (wire) {
    case 'grpc':
      return createGrpcTransport({ baseUrl });
    case 'grpc-web':
      return createGrpcWebTransport({ baseUrl, httpVersion: '1.1' });
    case 'connect-h1':
      return createConnectTransport({ baseUrl, httpVersion: '1.1' });
    case 'connect-h2':
      return createConnectTransport({ baseUrl, httpVersion: '2' });
  }
}

export function healthClient(port: number, wire: Wire = 'grpc'): Client<typeof HealthService> {
  return createClient(HealthService, transport(wire, port));
}

export function taskClient(port: number, wire: Wire = 'grpc'): Client<typeof TaskService> {
  return createClient(TaskService, transport(wire, port));
}

/** grpc.health.v1.Health through grpc-js, as grpc_health_probe and Kubernetes do it. */
export class StandardHealthClient {
  private readonly client: grpc.Client;

  constructor(port: number) {
    this.client = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  }

  /** Resolves with the status, or rejects with the grpc-js error (its `code` is the gRPC status). */
  check(service = '', timeoutMs = 5_000): Promise<ServingStatus> {
    return new Promise((resolve, reject) => {
      this.client.makeUnaryRequest(
        '/grpc.health.v1.Health/Check',
        (request: { service: string }) => Buffer.from(toBinary(HealthCheckRequestSchema, create(HealthCheckRequestSchema, request))),
        (bytes: Buffer) => fromBinary(HealthCheckResponseSchema, bytes),
        { service },
        { deadline: Date.now() + timeoutMs },
        (error, response) => (error !== null || response === undefined ? reject(error ?? new Error('no response')) : resolve(response.status)),
      );
    });
  }

  /** The first `count` statuses a Watch streams, then cancels it. */
  watch(service: string, count: number, timeoutMs = 20_000): Promise<ServingStatus[]> {
    return new Promise((resolve, reject) => {
      const seen: ServingStatus[] = [];
      const call = this.client.makeServerStreamRequest(
        '/grpc.health.v1.Health/Watch',
        (request: { service: string }) => Buffer.from(toBinary(HealthCheckRequestSchema, create(HealthCheckRequestSchema, request))),
        (bytes: Buffer) => fromBinary(HealthCheckResponseSchema, bytes),
        { service },
        { deadline: Date.now() + timeoutMs },
      );
      call.on('data', (response: { status: ServingStatus }) => {
        seen.push(response.status);
        if (seen.length === count) {
          call.cancel();
          resolve(seen);
        }
      });
      call.on('error', (error: grpc.ServiceError) => {
        if (error.code !== grpc.status.CANCELLED || seen.length < count) reject(error);
      });
    });
  }

  close(): void {
    this.client.close();
  }
}

/** GET a REST endpoint: status, content type and body. */
export async function get(port: number, path: string): Promise<{ status: number; type: string; text: string; json: () => Record<string, unknown> }> {
  const response = await fetch(`http://127.0.0.1:${port}${path}`, { signal: AbortSignal.timeout(10_000) });
  const text = await response.text();
  return { status: response.status, type: response.headers.get('content-type') ?? '', text, json: () => JSON.parse(text) as Record<string, unknown> };
}

/** Polls `probe` until it returns true, or fails after `timeoutMs` naming what was awaited. */
export async function eventually(what: string, probe: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      if (await probe()) return;
    } catch (error) {
      last = error;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`timed out waiting for ${what}${last === undefined ? '' : ` (last error: ${String(last)})`}`);
}
