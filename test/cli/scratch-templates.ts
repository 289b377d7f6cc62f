/** Template files written on the fly for CLI tests: a scratch directory and template text. */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export async function scratchDir(prefix: string): Promise<{ path: string; write(name: string, text: string): Promise<string>; cleanup(): Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), `tasker-cli-${prefix}-`));
  return {
    path,
    write: async (name, text) => {
      const file = join(path, name);
      await writeFile(file, text);
      return file;
    },
    cleanup: () => rm(path, { recursive: true, force: true }),
  };
}

/** A one-step template as YAML. */
export function oneStep(namespace: string, name: string, version: string, step = 'only', extra = ''): string {
  return `namespace: ${namespace}\nname: ${name}\nversion: "${version}"\n${extra}steps:\n  - name: ${step}\n    handler: scratch.${step}\n`;
}

/** A chain of `n` steps as YAML; `reverse`: each step depends on the one written after it (the root comes last). */
export function chain(namespace: string, name: string, n: number, reverse: boolean): string {
  const lines = [`namespace: ${namespace}`, `name: ${name}`, 'version: "1.0.0"', 'steps:'];
  for (let i = 0; i < n; i++) {
    lines.push(`  - name: s${i}`, '    handler: scratch.step');
    if (reverse && i < n - 1) lines.push(`    dependencies: [s${i + 1}]`);
    if (!reverse && i > 0) lines.push(`    dependencies: [s${i - 1}]`);
  }
  return `${lines.join('\n')}\n`;
}
