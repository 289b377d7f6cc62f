/**
 * Loading templates from disk: one file, or every `*.yaml` / `*.yml` under a directory. Uses
 * `node:fs/promises`, which Node, Bun and Deno all provide.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { TaskTemplate } from '../protocol/types.ts';
import { DuplicateTemplateError, TemplateError } from './errors.ts';
import { parseTemplate } from './parse-template.ts';

/** Reads and checks one template file. Throws TemplateError naming the file. */
export async function loadTemplateFile(path: string): Promise<TaskTemplate> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new TemplateError(path, `cannot read the file: ${describeFsError(error)}`, {}, { cause: error });
  }
  return parseTemplate(text, path);
}

/**
 * Loads every `*.yaml` and `*.yml` file under `dir` (recursively; directories and files whose
 * name starts with a dot are skipped), sorted by path. The first invalid file throws its
 * TemplateError; two files defining the same namespace/name/version throw DuplicateTemplateError
 * naming both.
 */
export async function loadTemplateDir(dir: string): Promise<Array<{ file: string; template: TaskTemplate }>> {
  const files = await listTemplateFiles(dir);
  const loaded: Array<{ file: string; template: TaskTemplate }> = [];
  const byKey = new Map<string, string>();
  for (const file of files) {
    const template = await loadTemplateFile(file);
    const key = `${template.namespace}/${template.name}@${template.version}`;
    const first = byKey.get(key);
    if (first !== undefined) throw new DuplicateTemplateError(file, first, key);
    byKey.set(key, file);
    loaded.push({ file, template });
  }
  return loaded;
}

/**
 * Every `*.yaml` / `*.yml` file below `dir`, sorted, skipping dot-files and following symbolic
 * links; throws TemplateError when `dir` cannot be read.
 */
export async function listTemplateFiles(dir: string): Promise<string[]> {
  return (await listYamlFiles(dir)).sort();
}

async function listYamlFiles(dir: string): Promise<string[]> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (error) {
    throw new TemplateError(dir, `cannot read the template directory: ${describeFsError(error)}`, {}, { cause: error });
  }
  const files: string[] = [];
  for (const entry of entries) {
    if (entry.name.startsWith('.')) continue;
    const path = join(dir, entry.name);
    // Symbolic links are followed: deployments often link a shared template directory in.
    const kind = entry.isSymbolicLink() ? await stat(path).catch(() => undefined) : entry;
    if (kind?.isDirectory()) files.push(...(await listYamlFiles(path)));
    else if (kind?.isFile() && /\.ya?ml$/i.test(entry.name)) files.push(path);
  }
  return files;
}

function describeFsError(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  if (code === 'ENOENT') return 'it does not exist';
  if (code === 'ENOTDIR') return 'it is not a directory';
  if (code === 'EISDIR') return 'it is a directory';
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied';
  return error instanceof Error ? error.message : String(error);
}
