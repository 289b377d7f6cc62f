import { readdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { detectRuntime } from '../../runtime.ts';
import { StepHandler, toHandlerDefinition, type HandlerDefinition, type HandlerInput } from '../../handler/index.ts';
import { DuplicateHandlerExportError, HandlerDirError, HandlerModuleError } from '../cli-errors.ts';

/** A handler found in a module, and where. */
export interface FoundHandler {
  definition: HandlerDefinition;
  file: string;
}

const JS_MODULE = /\.(m?js)$/;
const TS_MODULE = /\.(m?ts)$/;
const DECLARATION = /\.d\.m?ts$/;

/**
 * True when the running runtime imports TypeScript itself: Bun and Deno always, Node when it
 * strips types (`process.features.typescript`, Node 22.18+/23.6+).
 */
export function runtimeImportsTypeScript(): boolean {
  const runtime = detectRuntime();
  if (runtime !== 'node') return true;
  const features = process.features as { typescript?: unknown };
  return typeof features.typescript === 'string';
}

/**
 * Imports every module at the top of each directory (.js and .mjs; .ts and .mts too where the
 * runtime imports TypeScript; never .d.ts, never dot-files), in name order, and collects the
 * handlers they export, named or default: HandlerDefinition objects (defineHandler), StepHandler
 * subclasses and instances, and arrays of these. Other exports are ignored, so a module may
 * export helpers alongside. Throws HandlerDirError for a directory with no handler, and
 * DuplicateHandlerExportError when two different handlers share a name.
 */
export async function loadHandlerDirs(dirs: readonly string[]): Promise<FoundHandler[]> {
  const withTypeScript = runtimeImportsTypeScript();
  const found: FoundHandler[] = [];
  const seen = new Set<unknown>();
  const fileOf = new Map<string, string>();
  for (const dir of dirs) {
    const { modules, skippedTypeScript } = await listModules(dir, withTypeScript);
    let inDir = 0;
    for (const file of modules) {
      for (const input of handlerExports(await importModule(file), file)) {
        if (seen.has(input)) continue; // the same handler exported twice (named and in a list)
        seen.add(input);
        const definition = toHandlerDefinition(input);
        const first = fileOf.get(definition.name);
        if (first !== undefined) throw new DuplicateHandlerExportError(definition.name, [first, file]);
        fileOf.set(definition.name, file);
        found.push({ definition, file });
        inDir += 1;
      }
    }
    if (inDir === 0) {
      const hint =
        skippedTypeScript > 0
          ? `; ${skippedTypeScript} .ts file(s) were skipped because ${detectRuntime()} ${process.version} cannot import TypeScript: compile them to .js, or run tasker-ctl with bun or deno`
          : '';
      throw new HandlerDirError(
        dir,
        `no handlers found in ${modules.length} module(s): export defineHandler(...) results or StepHandler subclasses${hint}`,
      );
    }
  }
  return found;
}

async function listModules(dir: string, withTypeScript: boolean): Promise<{ modules: string[]; skippedTypeScript: number }> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (error) {
    const code = (error as { code?: unknown } | null)?.code;
    const problem = code === 'ENOENT' ? 'it does not exist' : code === 'ENOTDIR' ? 'it is not a directory' : String(error);
    throw new HandlerDirError(dir, problem, { cause: error });
  }
  const modules: string[] = [];
  let skippedTypeScript = 0;
  for (const entry of entries.sort((a, b) => a.name.localeCompare(b.name))) {
    if (entry.name.startsWith('.') || entry.isDirectory() || DECLARATION.test(entry.name)) continue;
    if (JS_MODULE.test(entry.name)) modules.push(resolve(join(dir, entry.name)));
    else if (TS_MODULE.test(entry.name)) {
      if (withTypeScript) modules.push(resolve(join(dir, entry.name)));
      else skippedTypeScript += 1;
    }
  }
  return { modules, skippedTypeScript };
}

async function importModule(file: string): Promise<Record<string, unknown>> {
  try {
    return (await import(pathToFileURL(file).href)) as Record<string, unknown>;
  } catch (error) {
    throw new HandlerModuleError(file, error instanceof Error ? error.message : String(error), { cause: error });
  }
}

/** The exports of a module that are handlers, in export order. */
function handlerExports(module: Record<string, unknown>, file: string): HandlerInput[] {
  const handlers: HandlerInput[] = [];
  for (const [exportName, value] of Object.entries(module)) {
    const candidates: unknown[] = Array.isArray(value) ? value : [value];
    for (const candidate of candidates) {
      if (isHandler(candidate)) handlers.push(candidate);
      else if (extendsForeignStepHandler(candidate)) {
        // Ignoring it would make the worker fail steps with "unknown handler" much later.
        throw new HandlerModuleError(
          file,
          `export ${exportName} extends a StepHandler from another copy of the Tasker SDK than the one running tasker-ctl; ` +
            'import StepHandler from the same @tasker/sdk installation, or write the handler with defineHandler',
        );
      }
    }
  }
  return handlers;
}

/** A class whose ancestry has a StepHandler that is not ours (two SDK copies loaded). */
function extendsForeignStepHandler(value: unknown): boolean {
  if (typeof value !== 'function') return false;
  for (let parent: unknown = Object.getPrototypeOf(value); typeof parent === 'function'; parent = Object.getPrototypeOf(parent)) {
    if (parent !== StepHandler && parent.name === 'StepHandler') return true;
  }
  return false;
}

function isHandler(value: unknown): value is HandlerInput {
  if (typeof value === 'function') return value.prototype instanceof StepHandler;
  if (value instanceof StepHandler) return true;
  if (typeof value !== 'object' || value === null) return false;
  const candidate = value as { name?: unknown; call?: unknown };
  return typeof candidate.name === 'string' && typeof candidate.call === 'function';
}
