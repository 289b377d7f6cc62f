/**
 * every ```ts block of README.md and docs/*.md type-checks against the current exports
 * (imports of @tasker/sdk and its subpaths pointed at sdk/src). Blocks are fragments, so names
 * they use without declaring (pool, charge, databaseUrl...) are not errors here; a missing
 * export, a wrong option or property name, or a wrong argument type is.
 */
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';
import { afterAll, expect, it } from 'vitest';
import { ROOT } from '../cli/run-cli.ts';

const DIR = join(ROOT, 'test/docs/.typecheck');
// Cannot find name / did you mean / shorthand of an undeclared name / implicit any of an undeclared helper / .ts import note.
const FRAGMENT_CODES = new Set([2304, 2552, 18004, 7006, 2877]);

afterAll(() => rmSync(DIR, { recursive: true, force: true }));

it('every ts block of README.md and docs/*.md type-checks', () => {
  mkdirSync(DIR, { recursive: true });
  const pages = ['README.md', ...readdirSync(join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];
  const files: string[] = [];
  for (const page of pages) {
    const text = readFileSync(join(ROOT, page), 'utf8');
    for (const match of text.matchAll(/^```ts\n([\s\S]*?)^```/gm)) {
      const line = text.slice(0, match.index).split('\n').length;
      const file = join(DIR, `${page.replace(/[/.]/g, '_')}_${line}.ts`);
      const code = (match[1] ?? '')
        .replace(/'@tasker\/sdk\/gen\/([^']+)'/g, `'${ROOT}sdk/src/gen/$1.ts'`)
        .replace(/'@tasker\/sdk\/([a-z]+)'/g, `'${ROOT}sdk/src/$1/index.ts'`)
        .replaceAll("'@tasker/sdk'", `'${ROOT}sdk/src/index.ts'`);
      writeFileSync(file, `${code}\nexport {};\n`);
      files.push(file);
    }
  }
  expect(files.length).toBeGreaterThan(10);
  const base = ts.getParsedCommandLineOfConfigFile(join(ROOT, 'tsconfig.test.json'), {}, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: () => {} });
  const program = ts.createProgram(files, { ...base?.options, noEmit: true, rootDir: ROOT });
  const problems = ts
    .getPreEmitDiagnostics(program)
    .filter((d) => d.file !== undefined && d.file.fileName.startsWith(DIR) && !FRAGMENT_CODES.has(d.code))
    .map((d) => `${d.file?.fileName.replace(DIR + '/', '')}: TS${d.code} ${ts.flattenDiagnosticMessageText(d.messageText, ' ')}`);
  expect(problems).toEqual([]);
});
