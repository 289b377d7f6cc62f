/**
 * Picks the worker-core binding: `TASKER_BINDING` = napi (default) | ffi | pg. The native
 * bindings are imported lazily, so a process that runs `pg` never loads them, and a missing native
 * build is a typed error saying how to build it — or, when allowed (`TASKER_BINDING_FALLBACK=pg`),
 * a logged fall back to the pure-TypeScript `pg` binding.
 */
import { InvalidConfigError } from '../errors.ts';
import { describeError } from '../db/describe-error.ts';
import { BindingUnavailableError } from './errors.ts';
import { pgBinding } from './pg/index.ts';
import type { BindingModule, BindingName } from './types.ts';

/** The bindings TASKER_BINDING accepts. */
export const BINDING_NAMES: readonly BindingName[] = ['napi', 'ffi', 'pg'];

/** Options of {@link loadBinding}. */
export interface LoadBindingOptions {
  /**
   * Use the `pg` binding (with a warning) when the requested native binding cannot be loaded.
   * Default: true when TASKER_BINDING_FALLBACK=pg.
   */
  allowFallback?: boolean;
  /** Environment to read TASKER_BINDING / TASKER_BINDING_FALLBACK from; default process.env. */
  env?: Readonly<Record<string, string | undefined>>;
  /** Receives the fallback warning; default console.warn. */
  warn?: (message: string) => void;
  /**
   * Imports a native binding's module, given its specifier relative to this file. Default: the
   * runtime's dynamic import(). Tests replace it to simulate a missing build.
   */
  importModule?: (specifier: string) => Promise<unknown>;
}

/**
 * Where each native binding lives and what it exports. The specifiers are kept in variables so
 * the SDK compiles before the modules exist; their exports are checked at run time instead.
 */
const NATIVE: Record<Exclude<BindingName, 'pg'>, { specifier: string; exportName: string; build: string }> = {
  napi: {
    specifier: './napi.ts',
    exportName: 'napiBinding',
    build: 'build the native core with `npm run build:native` (needs a Rust toolchain; see native/)',
  },
  ffi: {
    specifier: './ffi/index.ts',
    exportName: 'ffiBinding',
    build:
      'build the native library with `npm run build:native` (needs a Rust toolchain; see native/); ' +
      'on Node the ffi binding also needs the koffi package',
  },
};

function environment(options: LoadBindingOptions): Readonly<Record<string, string | undefined>> {
  return options.env ?? (typeof process === 'undefined' ? {} : process.env);
}

/** Checks a binding name (from TASKER_BINDING unless given) and returns it. */
export function resolveBindingName(name?: string, env: Readonly<Record<string, string | undefined>> = environment({})): BindingName {
  const fromEnv = env.TASKER_BINDING;
  const value = name ?? (fromEnv === undefined || fromEnv === '' ? 'napi' : fromEnv);
  if (!(BINDING_NAMES as readonly string[]).includes(value)) {
    throw new InvalidConfigError('TASKER_BINDING', value, `one of ${BINDING_NAMES.join(', ')}`);
  }
  return value as BindingName;
}

function fallbackAllowed(options: LoadBindingOptions, env: Readonly<Record<string, string | undefined>>): boolean {
  if (options.allowFallback !== undefined) return options.allowFallback;
  const value = env.TASKER_BINDING_FALLBACK;
  // The same values the config accepts (worker.binding_fallback): none or pg.
  if (value === undefined || value === '' || value === 'none') return false;
  if (value !== 'pg') throw new InvalidConfigError('TASKER_BINDING_FALLBACK', value, 'none or pg (or unset)');
  return true;
}

/**
 * Loads a binding: `name` or TASKER_BINDING, default `napi`.
 *
 * @example
 * const binding = await loadBinding();            // TASKER_BINDING or napi
 * const core = await binding.createWorkerCore({ databaseUrl, workerId: 'w1', namespaces: ['shop'] });
 */
export async function loadBinding(
  name: string | undefined = undefined,
  options: LoadBindingOptions = {},
): Promise<BindingModule> {
  const env = environment(options);
  const chosen = resolveBindingName(name, env);
  const allowFallback = fallbackAllowed(options, env);
  if (chosen === 'pg') return pgBinding;
  try {
    return await importNative(chosen, options.importModule ?? ((specifier) => import(specifier)));
  } catch (error) {
    if (!allowFallback || !(error instanceof BindingUnavailableError)) throw error;
    (options.warn ?? console.warn)(
      `[tasker] the ${chosen} binding is not available (${error.message}); falling back to the pg binding ` +
        `because fallback to pg is allowed (TASKER_BINDING_FALLBACK=pg)`,
    );
    return pgBinding;
  }
}

async function importNative(
  name: Exclude<BindingName, 'pg'>,
  importModule: (specifier: string) => Promise<unknown>,
): Promise<BindingModule> {
  const { specifier, exportName, build } = NATIVE[name];
  let loaded: Record<string, unknown>;
  try {
    loaded = (await importModule(specifier)) as Record<string, unknown>;
  } catch (error) {
    throw new BindingUnavailableError(
      name,
      `The ${name} binding cannot be loaded: ${describeError(error)}. To use it, ${build}; ` +
        `or set TASKER_BINDING=pg (or TASKER_BINDING_FALLBACK=pg to fall back automatically).`,
      { cause: error },
    );
  }
  const binding = typeof loaded === 'object' && loaded !== null ? loaded[exportName] : undefined;
  if (!isBindingModule(binding, name)) {
    throw new BindingUnavailableError(
      name,
      `The ${name} binding module (${specifier}) does not export a BindingModule named ${exportName} with name '${name}'`,
    );
  }
  return binding;
}

function isBindingModule(value: unknown, name: BindingName): value is BindingModule {
  if (typeof value !== 'object' || value === null) return false;
  const candidate = value as Partial<BindingModule>;
  return candidate.name === name && typeof candidate.createWorkerCore === 'function' && typeof candidate.echo === 'function';
}
