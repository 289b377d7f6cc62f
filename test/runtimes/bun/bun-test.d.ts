/**
 * The part of `bun:test` the Bun runner uses, so that `tsc -p tsconfig.test.json` (Node types)
 * typechecks binding.bun.ts. Bun itself does not read this file.
 */
declare module 'bun:test' {
  type Body = () => void | Promise<void>;
  export function describe(name: string, body: () => void): void;
  export function test(name: string, body: Body, timeoutMs?: number): void;
  export function beforeAll(body: Body, timeoutMs?: number): void;
  export function afterAll(body: Body, timeoutMs?: number): void;
}
