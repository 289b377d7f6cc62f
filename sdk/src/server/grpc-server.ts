/**
 * The gRPC server: one port serving gRPC, gRPC-Web and Connect (connect-node's adapter speaks all
 * three), over HTTP/2 without TLS (h2c, what gRPC clients and Kubernetes probes use inside a
 * cluster) and over HTTP/1.1 (what browsers' gRPC-Web and `curl` without flags use). Node's
 * http2 cannot offer both on a plaintext port, so the first bytes of each connection decide: the
 * HTTP/2 connection preface goes to the HTTP/2 server, anything else to the HTTP/1.1 one.
 * Works the same on Node, Bun and Deno (test/health/runtimes.test.ts).
 */
import { Buffer } from 'node:buffer';
import http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';
import type { ConnectRouter } from '@connectrpc/connect';
import { connectNodeAdapter } from '@connectrpc/connect-node';
import { detectRuntime } from '../runtime.ts';
import { boundStatusMessages } from './grpc/errors.ts';
import { ConnectionTracker } from './connection-tracker.ts';
import { listen, type ListenTarget, type RunningServer } from './listen.ts';

/** "PRI * HTTP/2.0": no HTTP/1.1 request line starts with these bytes. */
const HTTP2_PREFACE_START = 'PRI';
/** A connection that sends nothing is dropped after this long. */
const FIRST_BYTES_TIMEOUT_MS = 10_000;
const CLOSE_GRACE_MS = 200;
/**
 * Deno's node:http (measured on Deno 2.9.6) answers the first HTTP/1.1 request of a connection
 * handed over with emit('connection') with `Connection: keep-alive`, then resets the connection
 * when the client sends the next one. There, HTTP/1.1 answers say `Connection: close` instead,
 * so clients open a new connection per request rather than fail every second one. HTTP/2 (and
 * so gRPC) is not affected.
 */
const KEEP_ALIVE_BROKEN = detectRuntime() === 'deno';

export async function startGrpcServer(routes: (router: ConnectRouter) => void, target: ListenTarget): Promise<RunningServer> {
  const handler = connectNodeAdapter({ routes, interceptors: [boundStatusMessages] });
  const h2 = http2.createServer({}, handler);
  const h1 = http.createServer(KEEP_ALIVE_BROKEN ? closeAfterResponse(handler) : handler);
  // A client that resets its connection or stream must never take the service down with it.
  h2.on('sessionError', () => {});
  const tracker = new ConnectionTracker();
  const server = net.createServer((socket) => {
    socket.on('error', () => {});
    tracker.add(socket);
    dispatch(socket, h1, h2);
  });
  const address = await listen(server, target);
  return { address, close: () => tracker.close(server, CLOSE_GRACE_MS) };
}

function closeAfterResponse(handler: http.RequestListener): http.RequestListener {
  return (request, response) => {
    response.setHeader('connection', 'close');
    handler(request, response);
  };
}

/**
 * Reads until the protocol is known, puts the bytes back, and hands the socket over. Paused-mode
 * reads (`readable`), not `data` events: the socket must reach the chosen server still paused,
 * with the bytes read so far at the front of its buffer, which is what both servers expect.
 */
function dispatch(socket: net.Socket, h1: http.Server, h2: http2.Http2Server): void {
  let head = Buffer.alloc(0);
  const timer = setTimeout(() => socket.destroy(), FIRST_BYTES_TIMEOUT_MS);
  const stop = (): void => {
    clearTimeout(timer);
    socket.off('readable', onReadable);
    socket.off('error', onClosed);
    socket.off('end', onClosed);
    socket.off('close', onClosed);
  };
  const onClosed = (): void => {
    stop();
    socket.destroy();
  };
  const onReadable = (): void => {
    for (let chunk: Buffer | null = socket.read() as Buffer | null; chunk !== null; chunk = socket.read() as Buffer | null) {
      head = Buffer.concat([head, chunk]);
    }
    const start = head.subarray(0, HTTP2_PREFACE_START.length).toString('latin1');
    // Fewer bytes than the preface's start, all matching it so far: wait for more.
    if (head.length < HTTP2_PREFACE_START.length && HTTP2_PREFACE_START.startsWith(start)) return;
    stop();
    socket.unshift(head);
    (start === HTTP2_PREFACE_START ? h2 : h1).emit('connection', socket);
  };
  socket.on('readable', onReadable);
  socket.on('error', onClosed);
  socket.on('end', onClosed);
  // A socket destroyed by the server's close (ConnectionTracker) emits only 'close'; the timer
  // must not outlive it and hold the process open.
  socket.on('close', onClosed);
}
