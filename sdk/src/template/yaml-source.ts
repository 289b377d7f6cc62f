/**
 * Reads a YAML document and keeps its source map, so a problem found later in the parsed value
 * can be pointed at by line and column. YAML 1.2 core schema (`yes` stays a string, no
 * timestamps), duplicate keys are errors, `<<` merge keys are allowed (handy for shared retry
 * settings), and alias expansion is bounded (a "billion laughs" document fails instead of eating
 * memory).
 */
import { isAlias, isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node } from 'yaml';
import { TemplateError } from './errors.ts';

/** A position in a file, 1-based. */
export interface SourcePosition {
  line: number;
  column: number;
}

/** A path into a parsed document: keys and array indexes. */
export type DocPath = readonly (string | number)[];

/** Finds where a path is written: its key (`key`) or its value (`value`). Undefined when unknown. */
export type Locate = (path: DocPath, part: 'key' | 'value') => SourcePosition | undefined;

/** A parsed YAML document: its value and a way to find where things are. */
export interface YamlSource {
  value: unknown;
  locate: Locate;
}

// The yaml library counts each use of an anchor times the aliases inside what it names: a
// template of 10,000 steps sharing `retry: *patient` stays far below, while nested anchors that
// expand exponentially (a "billion laughs") pass it within a few levels.
const MAX_ALIAS_COUNT = 100_000;

/** Parses `text`; throws TemplateError naming the file, line and column of the first syntax error. */
export function readYaml(text: string, file: string): YamlSource {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, merge: true, uniqueKeys: true, prettyErrors: false });
  const syntaxError = doc.errors[0];
  if (syntaxError !== undefined) {
    const offset = syntaxError.pos[0];
    const { line, col } = lineCounter.linePos(offset);
    throw new TemplateError(file, `invalid YAML: ${firstLine(syntaxError.message)}`, { line, column: col });
  }
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (error) {
    // toJS fails on excessive aliasing (and on aliases to nothing).
    throw new TemplateError(file, `invalid YAML: ${error instanceof Error ? error.message : String(error)}`);
  }
  return { value, locate: (path, part) => locate(doc, lineCounter, path, part) };
}

function locate(doc: Document, lineCounter: LineCounter, path: DocPath, part: 'key' | 'value'): SourcePosition | undefined {
  let node: unknown = doc.contents;
  let found: unknown = node;
  for (let i = 0; i < path.length; i++) {
    node = resolve(doc, node);
    const segment = path[i];
    const last = i === path.length - 1;
    if (isMap(node)) {
      const pair = node.items.find((p) => isPair(p) && isScalar(p.key) && String(p.key.value) === String(segment));
      if (pair === undefined) break;
      found = last && part === 'key' ? pair.key : (pair.value ?? pair.key);
      node = pair.value;
    } else if (isSeq(node) && typeof segment === 'number') {
      const item: unknown = node.items[segment];
      if (item === undefined) break;
      found = item;
      node = item;
    } else {
      break;
    }
  }
  const range = (found as Node | null | undefined)?.range;
  if (range === undefined || range === null) return undefined;
  const { line, col } = lineCounter.linePos(range[0]);
  return { line, column: col };
}

function resolve(doc: Document, node: unknown): unknown {
  return isAlias(node) ? node.resolve(doc) : node;
}

function firstLine(message: string): string {
  return (message.split('\n')[0] ?? message).replace(/ at line \d+, column \d+:?$/, '');
}
