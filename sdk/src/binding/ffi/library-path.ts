/**
 * Finds the native core's shared library (the C ABI of `native/`, docs/bindings.md). Looked up,
 * in order: `TASKER_NATIVE_LIBRARY` (a path; when set it must exist), then the build outputs of
 * the repository's `native/` crate. A library that is nowhere is a {@link NativeLibraryMissingError}
 * that says how to build it.
 */
import { existsSync } from 'node:fs';
import { platform } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TaskerError } from '../../errors.ts';

/** Environment variable naming the shared library explicitly. */
export const NATIVE_LIBRARY_ENV = 'TASKER_NATIVE_LIBRARY';

/** The shared library of the native core was not found (not built, or a wrong path). */
export class NativeLibraryMissingError extends TaskerError {
  constructor(
    message: string,
    /** Every path that was tried, in order. */
    readonly searched: readonly string[],
  ) {
    super('NATIVE_LIBRARY_MISSING', message);
  }
}

/** The shared library could be found but not loaded (wrong architecture, missing symbol…). */
export class NativeLibraryLoadError extends TaskerError {
  constructor(
    readonly path: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super('NATIVE_LIBRARY_LOAD_FAILED', message, options);
  }
}

/** Options of {@link resolveNativeLibraryPath}. */
export interface NativeLibraryPathOptions {
  env?: Readonly<Record<string, string | undefined>>;
  /** The repository's `native/` directory; default: found from this file's location. */
  nativeDir?: string;
  /** Default: the running platform. */
  platform?: NodeJS.Platform;
}

/** `libtasker_native.so`, `libtasker_native.dylib` or `tasker_native.dll`. */
export function nativeLibraryFileName(os: NodeJS.Platform = platform()): string {
  if (os === 'win32') return 'tasker_native.dll';
  return `libtasker_native.${os === 'darwin' ? 'dylib' : 'so'}`;
}

/**
 * `native/` of this repository. This file is `sdk/src/binding/ffi/` when run from source and
 * `sdk/dist/binding/ffi/` when compiled: both four levels below the repository root.
 */
export function defaultNativeDir(): string {
  return resolve(fileURLToPath(new URL('../../../../native/', import.meta.url)));
}

/** Where the library may be, most preferred first. */
export function nativeLibraryCandidates(options: NativeLibraryPathOptions = {}): string[] {
  const env = options.env ?? process.env;
  const explicit = env[NATIVE_LIBRARY_ENV];
  if (explicit !== undefined && explicit !== '') return [resolve(explicit)];
  const nativeDir = options.nativeDir ?? defaultNativeDir();
  const file = nativeLibraryFileName(options.platform);
  return [join(nativeDir, 'lib', file), join(nativeDir, 'target', 'release', file), join(nativeDir, 'target', 'debug', file)];
}

/** The path of the shared library, or a {@link NativeLibraryMissingError} saying how to build it. */
export function resolveNativeLibraryPath(options: NativeLibraryPathOptions = {}): string {
  const candidates = nativeLibraryCandidates(options);
  const found = candidates.find((candidate) => existsSync(candidate));
  if (found !== undefined) return found;
  const env = options.env ?? process.env;
  const explicit = env[NATIVE_LIBRARY_ENV];
  const message =
    explicit !== undefined && explicit !== ''
      ? `${NATIVE_LIBRARY_ENV}=${JSON.stringify(explicit)} names no file. Point it at the built library ` +
        `(${nativeLibraryFileName(options.platform)}), or unset it and run \`npm run build:native\``
      : `The native core's shared library was not found (looked for ${candidates.join(', ')}). ` +
        `Build it with \`npm run build:native\` (needs a Rust toolchain) or set ${NATIVE_LIBRARY_ENV} to its path`;
  throw new NativeLibraryMissingError(message, candidates);
}
