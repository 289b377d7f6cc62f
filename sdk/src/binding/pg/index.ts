/**
 * The `pg` binding: the worker core in pure TypeScript over `pg`, on Node, Bun and Deno alike.
 * The reference implementation of docs/bindings.md and the fallback when the native core is not
 * available.
 */
import type { BindingModule } from '../types.ts';
import { createPgWorkerCore } from './core.ts';

/** The `pg` binding module: the worker core in pure TypeScript over `pg`, available on every runtime. */
export const pgBinding: BindingModule = {
  name: 'pg',
  createWorkerCore: createPgWorkerCore,
  // No boundary to cross in pure TypeScript: this measures the floor of the echo benchmark.
  echo: (payload) => Promise.resolve(payload),
};

export { createPgWorkerCore } from './core.ts';
export { resolveCoreConfig, type ResolvedCoreConfig } from './config.ts';
