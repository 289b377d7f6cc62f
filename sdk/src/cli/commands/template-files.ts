import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { TemplateError } from '../../template/index.ts';
import { listTemplateFiles } from '../../template/load-templates.ts';

/** The template files named on a command line, or why one argument named none. */
export interface TemplateFiles {
  files: string[];
  /** One per argument that could not be read or held no template file. */
  problems: TemplateError[];
}

/**
 * Turns `<file|dir>...` into template files: a file as given, a directory as every `*.yaml` /
 * `*.yml` below it, skipping dot-files, sorted (listTemplateFiles, as loadTemplateDir does). The CLI
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
        const found = await listTemplateFiles(path);
        if (found.length === 0) problems.push(new TemplateError(path, 'the directory holds no *.yaml or *.yml file'));
        files.push(...found);
      } catch (error) {
        problems.push(error instanceof TemplateError ? error : new TemplateError(path, `cannot read the directory: ${String(error)}`));
      }
    } else {
      files.push(path);
    }
  }
  // One file named twice (`dir` and `dir/./order.yaml`) is one file, shown as first named.
  const seen = new Set<string>();
  return { files: files.filter((file) => !seen.has(resolve(file)) && seen.add(resolve(file))), problems };
}
