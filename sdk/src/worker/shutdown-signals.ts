/**
 * SIGTERM and SIGINT on every runtime. Node and Bun deliver them through `process`; Deno through
 * Deno.addSignalListener, which is used there so behaviour does not hang on Node compatibility.
 */

type Signal = 'SIGTERM' | 'SIGINT';

interface DenoSignals {
  addSignalListener(signal: Signal, handler: () => void): void;
  removeSignalListener(signal: Signal, handler: () => void): void;
}

const SIGNALS: readonly Signal[] = ['SIGTERM', 'SIGINT'];

/**
 * Calls `onSignal` with the signal's name each time SIGTERM or SIGINT arrives, until the returned
 * function is called. While subscribed, the runtime's default action (exit at once) is suppressed.
 */
export function onShutdownSignal(onSignal: (signal: Signal) => void): () => void {
  const deno = (globalThis as { Deno?: DenoSignals }).Deno;
  const handlers = SIGNALS.map((signal) => [signal, () => onSignal(signal)] as const);
  if (deno !== undefined) {
    for (const [signal, handler] of handlers) deno.addSignalListener(signal, handler);
    return () => {
      for (const [signal, handler] of handlers) deno.removeSignalListener(signal, handler);
    };
  }
  for (const [signal, handler] of handlers) process.on(signal, handler);
  return () => {
    for (const [signal, handler] of handlers) process.off(signal, handler);
  };
}
