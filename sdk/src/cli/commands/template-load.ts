import type { TaskTemplate } from '../../protocol/types.ts';
import { DuplicateTemplateError, TemplateError, loadTemplateFile } from '../../template/index.ts';
import { findTemplateFiles } from './template-files.ts';

/** One template file and what came of parsing it. */
export type TemplateOutcome = { file: string; template: TaskTemplate } | { file: string; error: TemplateError };

/**
 * Parses every template file named by `paths` with the TypeScript parser (no database), and
 * reports each file's template or error; two files defining one namespace/name@version make the
 * second a DuplicateTemplateError. Never throws for a bad template.
 */
export async function loadTemplateOutcomes(paths: readonly string[]): Promise<TemplateOutcome[]> {
  const { files, problems } = await findTemplateFiles(paths);
  const outcomes: TemplateOutcome[] = problems.map((error) => ({ file: error.file, error }));
  const firstFileOf = new Map<string, string>();
  for (const file of files) {
    try {
      const template = await loadTemplateFile(file);
      const key = templateKey(template);
      const first = firstFileOf.get(key);
      if (first !== undefined) throw new DuplicateTemplateError(file, first, key);
      firstFileOf.set(key, file);
      outcomes.push({ file, template });
    } catch (error) {
      if (!(error instanceof TemplateError)) throw error;
      outcomes.push({ file, error });
    }
  }
  return outcomes;
}

/** `namespace/name@version`. */
export function templateKey(template: Pick<TaskTemplate, 'namespace' | 'name' | 'version'>): string {
  return `${template.namespace}/${template.name}@${template.version}`;
}
