/**
 * The project rule: every public API (what `@tasker/sdk`, sdk/src/index.ts, and
 * `@tasker/sdk/binding`, sdk/src/binding/index.ts, export) has a doc comment and appears in README
 * or docs/. `npm run api:check` (scripts/api-reference.mjs --check) fails when an export lacks a
 * doc comment or docs/api.md is stale; this test runs it, and checks on its own, with the
 * TypeScript compiler, that every value export (class, function, constant) is named in README.md
 * or a docs/*.md file (docs/api.md included).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { runChild } from '../support/child-process.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const ENTRIES = ['sdk/src/index.ts', 'sdk/src/binding/index.ts'];

/** `name (file)` of every value export of each entry point, from one program over both. */
function valueExports(): Map<string, string[]> {
  const parsed = ts.getParsedCommandLineOfConfigFile(join(ROOT, 'sdk/tsconfig.json'), {}, {
    ...ts.sys,
    onUnRecoverableConfigFileDiagnostic: () => {},
  });
  const program = ts.createProgram(
    ENTRIES.map((entry) => join(ROOT, entry)),
    { ...parsed?.options, noEmit: true },
  );
  const checker = program.getTypeChecker();
  const result = new Map<string, string[]>();
  for (const entry of ENTRIES) {
    const source = program.getSourceFile(join(ROOT, entry));
    const module = source === undefined ? undefined : checker.getSymbolAtLocation(source);
    if (module === undefined) throw new Error(`no module symbol for ${entry}`);
    const values = checker.getExportsOfModule(module).flatMap((symbol) => {
      const target = symbol.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(symbol) : symbol;
      if ((target.flags & ts.SymbolFlags.Value) === 0) return [];
      const file = target.getDeclarations()?.[0]?.getSourceFile().fileName.replace(ROOT, '') ?? '?';
      return [`${symbol.name} (${file})`];
    });
    result.set(entry, values);
  }
  return result;
}

// Started at once, so the check runs in its own process while this one builds its program.
const apiCheck = runChild(process.execPath, [join(ROOT, 'scripts/api-reference.mjs'), '--check'], {
  timeoutMs: 60_000,
  cwd: ROOT,
});

describe('API reference (docs/api.md)', () => {
  it('every value export of @tasker/sdk and @tasker/sdk/binding is named in README.md or docs/*.md', () => {
    const docFiles = ['README.md', ...readdirSync(join(ROOT, 'docs')).filter((name) => name.endsWith('.md')).map((name) => `docs/${name}`)];
    expect(docFiles).toContain('docs/api.md');
    const docs = docFiles.map((file) => readFileSync(join(ROOT, file), 'utf8')).join('\n');
    const exports = valueExports();
    // A sanity floor, so a broken program (no exports found) cannot pass.
    expect(exports.get('sdk/src/index.ts')?.length).toBeGreaterThan(100);
    expect(exports.get('sdk/src/binding/index.ts')?.length).toBeGreaterThan(5);
    const unnamed = [...exports].flatMap(([entry, values]) =>
      values.filter((value) => !new RegExp(`\\b${value.split(' ')[0]}\\b`).test(docs)).map((value) => `${value} from ${entry}`),
    );
    expect(unnamed).toEqual([]);
  });

  it('`npm run api:check` passes: every export has a doc comment and docs/api.md is up to date', async () => {
    const run = await apiCheck;
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/docs\/api\.md is up to date/);
  });
});
