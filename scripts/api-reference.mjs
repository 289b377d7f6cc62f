#!/usr/bin/env node
// `npm run api:docs`: writes docs/api.md, the API reference of every export (values and types) of
// `@tasker/sdk` (sdk/src/index.ts) and `@tasker/sdk/binding` (sdk/src/binding/index.ts), read with
// the TypeScript compiler: grouped by the folder under sdk/src that declares each export, with its
// kind and the first sentence of its doc comment, sorted, so the output is deterministic.
// `npm run api:check` (`--check`, run by `npm test`): writes nothing and fails when docs/api.md
// differs from what would be written, naming the entries that differ. Both modes fail when an
// export has no doc comment (the project rule: every public API has one), naming it.
// Plain Node ESM, no dependencies beyond the `typescript` devDependency.

import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const output = join(root, 'docs', 'api.md');
const srcDir = join(root, 'sdk', 'src');
const ENTRIES = [
  { module: '@tasker/sdk', file: join(srcDir, 'index.ts') },
  { module: '@tasker/sdk/binding', file: join(srcDir, 'binding', 'index.ts') },
];
/** Section order: the source folders under sdk/src, then files directly in sdk/src. */
const SECTIONS = ['handler', 'worker', 'client', 'orchestration', 'template', 'config', 'db', 'protocol', 'server', 'binding', 'json'];
const TOP_LEVEL = '(top level)';
const GUIDES = ['handlers', 'templates', 'worker', 'config', 'cli', 'health', 'bindings', 'protocol', 'conformance'];

const args = process.argv.slice(2);
const unknown = args.filter((arg) => arg !== '--check');
if (unknown.length > 0) {
  console.error(`[ERROR] api-reference: unknown argument ${unknown.join(' ')} (usage: node scripts/api-reference.mjs [--check])`);
  process.exit(2);
}
const check = args.includes('--check');

/** A program over both entry points with the SDK's compiler options (sdk/tsconfig.json). */
function createProgram() {
  const parsed = ts.getParsedCommandLineOfConfigFile(join(srcDir, '..', 'tsconfig.json'), {}, {
    ...ts.sys,
    onUnRecoverableConfigFileDiagnostic: (diagnostic) => {
      throw new Error(ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n'));
    },
  });
  return ts.createProgram(
    ENTRIES.map((entry) => entry.file),
    { ...parsed?.options, noEmit: true, composite: false, declaration: false, sourceMap: false },
  );
}

/** The kinds of a (resolved) symbol: a name may be both a constant and a type, say. */
function kindsOf(symbol) {
  const f = symbol.flags;
  const kinds = [];
  if (f & ts.SymbolFlags.Class) kinds.push('class');
  if (f & ts.SymbolFlags.Function) kinds.push('function');
  if (f & ts.SymbolFlags.Enum) kinds.push('enum');
  if (f & ts.SymbolFlags.Variable) {
    const declaration = symbol.getDeclarations()?.find(ts.isVariableDeclaration);
    const constant = declaration !== undefined && (ts.getCombinedNodeFlags(declaration) & ts.NodeFlags.Const) !== 0;
    kinds.push(constant ? 'constant' : 'variable');
  }
  if (f & ts.SymbolFlags.Interface && !(f & ts.SymbolFlags.Class)) kinds.push('interface');
  if (f & ts.SymbolFlags.TypeAlias) kinds.push('type');
  if (f & (ts.SymbolFlags.ValueModule | ts.SymbolFlags.NamespaceModule)) kinds.push('namespace');
  return kinds.length > 0 ? kinds : ['other'];
}

/** The doc comments (JSDoc) that belong to a declaration, closest last. */
function docsOf(declaration) {
  const node = ts.isVariableDeclaration(declaration) ? declaration.parent.parent : declaration;
  return ts.getJSDocCommentsAndTags(node).filter(ts.isJSDoc);
}

/** A doc comment's text as one line of Markdown: `{@link X}` becomes `X` in backticks. */
function docText(doc) {
  const parts = typeof doc.comment === 'string' ? [doc.comment] : (doc.comment ?? []).map((part) => {
    if (ts.isJSDocLink(part) || ts.isJSDocLinkCode(part) || ts.isJSDocLinkPlain(part)) {
      const target = part.name === undefined ? '' : part.name.getText();
      return part.text.trim() !== '' ? part.text.trim() : `\`${target}\``;
    }
    return part.text;
  });
  return parts.join('').replace(/\s+/g, ' ').trim();
}

/**
 * The first sentence: up to the first `.`, `!` or `?` followed by whitespace and a capital, a
 * backtick or a bracket, that is outside parentheses and code spans and does not end `e.g.`,
 * `i.e.`, `etc.`, `vs.` or `cf.`; else the whole text.
 */
function firstSentence(text) {
  const ends = /[.!?](?=\s+[A-Z`("[])/g;
  for (let match = ends.exec(text); match !== null; match = ends.exec(text)) {
    const sentence = text.slice(0, match.index + 1);
    const open = (sentence.match(/\(/g) ?? []).length - (sentence.match(/\)/g) ?? []).length;
    const code = (sentence.match(/`/g) ?? []).length % 2;
    if (open === 0 && code === 0 && !/\b(e\.g|i\.e|etc|vs|cf)\.$/i.test(sentence)) return sentence;
  }
  return text;
}

/** Source folder under sdk/src that declares `fileName`, or TOP_LEVEL. */
function sectionOf(fileName) {
  const path = relative(srcDir, fileName).split(sep);
  return path.length > 1 ? path[0] : TOP_LEVEL;
}

function collect() {
  const program = createProgram();
  const checker = program.getTypeChecker();
  const exports = [];
  for (const entry of ENTRIES) {
    const source = program.getSourceFile(entry.file);
    const module = source === undefined ? undefined : checker.getSymbolAtLocation(source);
    if (module === undefined) throw new Error(`cannot read the exports of ${relative(root, entry.file)}`);
    for (const symbol of checker.getExportsOfModule(module)) {
      const target = symbol.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(symbol) : symbol;
      const declarations = target.getDeclarations() ?? [];
      const documented = declarations.map(docsOf).find((docs) => docs.length > 0);
      const fileName = declarations[0]?.getSourceFile().fileName ?? entry.file;
      exports.push({
        name: symbol.name,
        module: entry.module,
        kinds: kindsOf(target),
        file: relative(root, fileName).split(sep).join('/'),
        section: sectionOf(fileName),
        summary: documented === undefined ? undefined : firstSentence(docText(documented[documented.length - 1])),
      });
    }
  }
  return exports;
}

const compare = (a, b) => {
  const x = a.toLowerCase();
  const y = b.toLowerCase();
  if (x !== y) return x < y ? -1 : 1;
  return a < b ? -1 : a > b ? 1 : 0;
};

const cell = (text) => text.replace(/\\/g, '\\\\').replace(/\|/g, '\\|');

function render(exports) {
  const counts = ENTRIES.map((entry) => `${exports.filter((e) => e.module === entry.module).length} from \`${entry.module}\``);
  const lines = [
    '# API reference',
    '',
    '<!-- Generated by `npm run api:docs` (scripts/api-reference.mjs) from the doc comments in sdk/src: do not edit by hand. `npm test` runs `npm run api:check`, which fails when this file is stale. -->',
    '',
    `Every export of \`@tasker/sdk\` (sdk/src/index.ts) and \`@tasker/sdk/binding\` (sdk/src/binding/index.ts), ${counts.join(' and ')}, generated by \`npm run api:docs\` from the doc comments in the source: its kind and the first sentence of its doc comment.`,
    'Sections follow the folder under sdk/src that declares it; the source has the full comment.',
    `For how the parts fit together, read the guides: ${GUIDES.map((name) => `[${name}.md](${name}.md)`).join(', ')}, and the [README](../README.md).`,
  ];
  const sections = [...new Set(exports.map((e) => e.section))].sort((a, b) => {
    const rank = (s) => (s === TOP_LEVEL ? SECTIONS.length + 1 : SECTIONS.includes(s) ? SECTIONS.indexOf(s) : SECTIONS.length);
    return rank(a) - rank(b) || compare(a, b);
  });
  for (const section of sections) {
    lines.push('', section === TOP_LEVEL ? '## Top-level files (sdk/src/*.ts)' : `## ${section} (sdk/src/${section}/)`);
    for (const entry of ENTRIES) {
      const here = exports.filter((e) => e.section === section && e.module === entry.module).sort((a, b) => compare(a.name, b.name));
      if (here.length === 0) continue;
      lines.push('', `From \`${entry.module}\`:`, '', '| export | kind | summary |', '|---|---|---|');
      for (const e of here) lines.push(`| \`${e.name}\` | ${e.kinds.join(', ')} | ${cell(e.summary ?? '')} |`);
    }
  }
  return lines.join('\n') + '\n';
}

/** What differs between the committed and the fresh text, line by line, as readable problems. */
function differences(committed, fresh) {
  const have = committed.split('\n');
  const want = fresh.split('\n');
  const haveSet = new Set(have);
  const wantSet = new Set(want);
  const problems = [
    ...want.filter((line) => !haveSet.has(line)).map((line) => `lacks: ${line}`),
    ...have.filter((line) => !wantSet.has(line)).map((line) => `has, but sdk/src no longer gives: ${line}`),
  ];
  if (problems.length === 0) problems.push('has the right lines in the wrong order');
  return problems;
}

let failed = false;
const exports = collect();
const undocumented = exports.filter((e) => e.summary === undefined || e.summary === '');
for (const e of undocumented) {
  console.error(`[ERROR] api-reference: ${e.name} (${e.file}, exported by ${e.module}) has no doc comment`);
}
if (undocumented.length > 0) {
  console.error(`[ERROR] api-reference: ${undocumented.length} export(s) without a doc comment: add a short /** ... */ comment to each`);
  failed = true;
}
const fresh = render(exports);
const name = relative(root, output);
if (check) {
  if (!existsSync(output)) {
    console.error(`[ERROR] api-reference: ${name} is missing: run \`npm run api:docs\``);
    failed = true;
  } else {
    const committed = readFileSync(output, 'utf8');
    if (committed !== fresh) {
      const problems = differences(committed, fresh);
      for (const problem of problems.slice(0, 40)) console.error(`[ERROR] api-reference: ${name}: ${problem}`);
      if (problems.length > 40) console.error(`[ERROR] api-reference: ${name}: ... and ${problems.length - 40} more`);
      console.error(`[ERROR] api-reference: ${name} is stale: run \`npm run api:docs\` and commit it`);
      failed = true;
    }
  }
  if (failed) process.exit(1);
  console.log(`[SUCCESS] api-reference: ${name} is up to date (${exports.length} exports, every one documented)`);
} else {
  if (failed) {
    console.error(`[ERROR] api-reference: ${name} not written`);
    process.exit(1);
  }
  const before = existsSync(output) ? readFileSync(output, 'utf8') : undefined;
  if (before !== fresh) writeFileSync(output, fresh);
  console.log(`[SUCCESS] api-reference: ${before === fresh ? 'unchanged' : 'wrote'} ${name} (${exports.length} exports)`);
}
