/**
 * The REST server (node:http, so the same code serves on Node, Bun and Deno):
 *
 *   GET /health           liveness: 200, or 503 once the service has stopped
 *   GET /health/ready     readiness: 200 when every check passes, else 503, with the checks
 *   GET /health/detailed  everything an operator looks at (200 healthy, 503 unhealthy)
 *   GET /metrics          Prometheus text format
 *
 * HEAD works wherever GET does. Answers are never cached, and never hold a secret.
 */
import { Buffer } from 'node:buffer';
import http from 'node:http';
import { redactText } from '../handler/redact.ts';
import { ConnectionTracker } from './connection-tracker.ts';
import type { HealthSource } from './health-types.ts';
import { listen, type ListenTarget, type RunningServer } from './listen.ts';
import { PROMETHEUS_CONTENT_TYPE } from './metrics/exposition.ts';

const CLOSE_GRACE_MS = 200;

interface Answer {
  status: number;
  contentType: string;
  body: string;
}

export async function startRestServer(source: HealthSource, target: ListenTarget): Promise<RunningServer> {
  const tracker = new ConnectionTracker();
  const server = http.createServer((request, response) => {
    void answer(source, request.method ?? 'GET', request.url ?? '/')
      .then((reply) => {
        response.writeHead(reply.status, {
          'content-type': reply.contentType,
          'cache-control': 'no-store',
          'content-length': Buffer.byteLength(reply.body),
        });
        response.end(request.method === 'HEAD' ? undefined : reply.body);
      })
      // The client went away mid-answer: nothing to tell anyone, and nothing may crash the service.
      .catch(() => response.destroy());
  });
  server.on('connection', (socket) => tracker.add(socket));
  const address = await listen(server, target);
  return { address, close: () => tracker.close(server, CLOSE_GRACE_MS) };
}

async function answer(source: HealthSource, method: string, url: string): Promise<Answer> {
  let path: string;
  try {
    path = new URL(url, 'http://localhost').pathname.replace(/\/+$/, '') || '/';
  } catch {
    return json(400, { error: 'not a valid request path' });
  }
  const route = ROUTES[path];
  if (route === undefined) return json(404, { error: `no such endpoint: ${path}`, endpoints: Object.keys(ROUTES) });
  if (method !== 'GET' && method !== 'HEAD') return json(405, { error: `${method} is not allowed here: use GET` });
  try {
    return await route(source);
  } catch (error) {
    return json(500, { error: redactText(error instanceof Error ? error.message : String(error)) });
  }
}

const ROUTES: Record<string, (source: HealthSource) => Promise<Answer>> = {
  '/health': async (source) => {
    const report = source.liveness();
    return json(report.alive ? 200 : 503, { status: report.alive ? 'alive' : 'stopped', ...report });
  },
  '/health/ready': async (source) => {
    const report = await source.readiness();
    return json(report.ready ? 200 : 503, { status: report.ready ? 'ready' : 'not_ready', ...report });
  },
  '/health/detailed': async (source) => {
    const health = await source.detailed();
    return json(health.ready ? 200 : 503, health);
  },
  '/metrics': async (source) => ({ status: 200, contentType: PROMETHEUS_CONTENT_TYPE, body: await source.metrics() }),
};

function json(status: number, body: object): Answer {
  return { status, contentType: 'application/json; charset=utf-8', body: `${JSON.stringify(body, null, 2)}\n` };
}
