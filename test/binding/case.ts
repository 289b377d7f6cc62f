/**
 * The shape of the shared binding test suite. Every case is a plain async function that throws
 * (node:assert) on failure, so the same cases run under vitest on Node, `bun test` on Bun and
 * `deno test` on Deno, in every binding: each runner loops over `bindingCases` and registers one
 * test per case with its own framework.
 */
import type pg from 'pg';
import type { BindingModule, BindingName } from '../../sdk/src/binding/types.ts';

/** What a case gets: its own migrated database and the binding under test. */
export interface BindingCaseContext {
  /** The binding under test. */
  binding: BindingModule;
  /** Name of the binding under test (same as binding.name). */
  bindingName: BindingName;
  /** A fresh database with the tasker migrations applied, used by nobody else. */
  databaseUrl: string;
  /** A pool on that database, for setting up tasks and inspecting the outcome through SQL. */
  pool: pg.Pool;
  /** The runtime running the case. */
  runtime: 'node' | 'bun' | 'deno';
}

/** One test of the suite. */
export interface BindingCase {
  name: string;
  /** Generous upper bound; runners pass it to their framework. Default 60 s. */
  timeoutMs?: number;
  run(context: BindingCaseContext): Promise<void>;
}
