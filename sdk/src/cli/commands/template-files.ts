import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { TemplateError } from '../../template/index.ts';

/** The template files named on a command line, or why one argument named none. */
export interface TemplateFiles {
  files: string[];
  /** One per argument that could not be read or held no template file. */
  problems: TemplateError[];
}

/**
 * Turns `<file|dir>...` into template files: a file as given, a directory as every `*.yaml` /
 * `*.yml` below it, skipping dot-files, sorted (the same selection as loadTemplateDir). The CLI
 * lists the files itself, rather than calling loadTemplateDir, so that `template validate` can
 * report every bad file of a directory, not only the first.
 */
export async function findTemplateFiles(paths: readonly string[]): Promise<TemplateFiles> {
  const files: string[] = [];
  const problems: TemplateError[] = [];
  for (const path of paths) {
    const kind = await stat(path).catch(() => undefined);
    if (kind === undefined) {
      problems.push(new TemplateError(path, 'no such file or directory'));
    } else if (kind.isDirectory()) {
      try {
        const found = (await listYamlFiles(path)).sort();
        if (found.length === 0) problems.push(new TemplateError(path, 'the directory holds no *.yaml or *.yml file'));
        files.push(...found);
      } catch (error) {
        problems.push(new TemplateError(path, `cannot read the directory: ${error instanceof Error ? error.message : String(error)}`));
      }
    } else {
      files.push(path);
    }
  }
  return { files: [...new Set(files)], problems };
}

async function listYamlFiles(dir: string): Promise<string[]> {
  const files: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    if (entry.name.startsWith('.')) continue;
    const path = join(dir, entry.name);
    // Symbolic links are followed, as loadTemplateDir does.
    const kind = entry.isSymbolicLink() ? await stat(path).catch(() => undefined) : entry;
    if (kind?.isDirectory()) files.push(...(await listYamlFiles(path)));
    else if (kind?.isFile() && /\.ya?ml$/i.test(entry.name)) files.push(path);
  }
  return files;
}
