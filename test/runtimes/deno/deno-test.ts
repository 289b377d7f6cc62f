/**
 * The little of `Deno.test` the Deno runners use, declared here because Deno's own types are not
 * visible to `tsc -p tsconfig.test.json` (Node types), and a bound for test bodies (Deno.test has
 * no timeout of its own).
 */

/** The members of a `Deno.test` definition used here. */
interface DenoTestDefinition {
  name: string;
  fn: () => Promise<void>;
  /** Cores, pools and the embedded server keep timers and sockets across tests on purpose. */
  sanitizeOps?: boolean;
  sanitizeResources?: boolean;
}

const { Deno } = globalThis as unknown as { Deno: { test(definition: DenoTestDefinition): void } };

/** Fails when `body` has not settled after `ms`, naming `what`. */
export async function within(ms: number, what: string, body: () => Promise<void>): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeUp = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms);
  });
  try {
    await Promise.race([body(), timeUp]);
  } finally {
    clearTimeout(timer);
  }
}

/** Registers a test that keeps timers and sockets across tests (no op/resource sanitizers). */
export function register(name: string, fn: () => Promise<void>): void {
  Deno.test({ name, fn, sanitizeOps: false, sanitizeResources: false });
}
