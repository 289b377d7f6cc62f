/**
 * Reads configuration files into layers: each file is parsed, walked table by table, and every
 * value checked against its key. Unknown keys, keys of the other context, and a database URL in
 * a file are problems naming the key and the file, so a typo never silently does nothing.
 */
import { readFile } from 'node:fs/promises';
import { relative, isAbsolute } from 'node:path';
import { cwd } from 'node:process';
import { parse, TomlError } from 'smol-toml';
import type { ConfigProblem } from './errors.ts';
import { CONFIG_KEYS, CONFIG_TABLES, keySpec, type ConfigValue, type KeySpec } from './schema.ts';
import { nearest } from './suggest.ts';
import { checkEnvValue, checkFileValue } from './values.ts';

/** A value and where it came from. */
export interface Sourced {
  value: ConfigValue;
  source: string;
}

/** The checked values of one file or of the environment. */
export interface Layer {
  source: string;
  values: Map<string, Sourced>;
  /** Top-level `environment` / `context` of a merged file (see generate.ts). */
  meta: { environment?: string; context?: string };
}

/** What a file may hold. */
export interface FileRules {
  /** Sections the file may have tables for, e.g. ['common'] or ['common', 'worker']. */
  sections: readonly string[];
  /** A merged file (TASKER_CONFIG_PATH) may name its environment and context at the top. */
  merged: boolean;
}

/** A path as shown in messages: relative to the working directory when inside it. */
export function displayPath(path: string): string {
  const rel = relative(cwd(), path);
  return rel === '' || rel.startsWith('..') || isAbsolute(rel) ? path : rel;
}

/** Reads one TOML file; undefined when it does not exist and `optional` is set. */
export async function readLayer(path: string, rules: FileRules, problems: ConfigProblem[], optional: boolean): Promise<Layer | undefined> {
  const source = displayPath(path);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if (optional && (error as { code?: unknown }).code === 'ENOENT') return undefined;
    problems.push({ key: source, problem: `cannot read the file: ${error instanceof Error ? error.message : String(error)}` });
    return undefined;
  }
  let document: Record<string, unknown>;
  try {
    document = parse(text);
  } catch (error) {
    const at = error instanceof TomlError ? `:${error.line}:${error.column}` : '';
    const message = error instanceof Error ? (error.message.split('\n')[0] ?? error.message) : String(error);
    problems.push({ key: `${source}${at}`, problem: message.replace(/^Invalid TOML document: /, 'invalid TOML: ') });
    return undefined;
  }
  return layerFromDocument(document, source, rules, problems);
}

/** Walks a parsed document into a layer; `source` names it in problems. */
export function layerFromDocument(document: Record<string, unknown>, source: string, rules: FileRules, problems: ConfigProblem[]): Layer {
  const layer: Layer = { source, values: new Map(), meta: {} };
  for (const [name, value] of Object.entries(document)) {
    if (name === 'environment' || name === 'context') {
      if (!rules.merged) {
        problems.push({ key: name, problem: 'only a merged file (TASKER_CONFIG_PATH) names its environment and context', source });
      } else if (typeof value !== 'string') {
        problems.push({ key: name, problem: `must be a string, got ${typeof value}`, source });
      } else {
        layer.meta[name] = value;
      }
      continue;
    }
    if (CONFIG_TABLES.has(name) && !rules.sections.includes(name)) {
      problems.push({ key: name, problem: `does not belong in this file, which may hold ${rules.sections.map((s) => `[${s}]`).join(' and ')}`, source });
      continue;
    }
    walk(name, value, layer, problems);
  }
  return layer;
}

function walk(key: string, value: unknown, layer: Layer, problems: ConfigProblem[]): void {
  const spec = keySpec(key);
  if (spec !== undefined) {
    if (spec.envOnly === true) {
      problems.push({ key, problem: `is read from ${spec.env} only: a file must not hold it`, source: layer.source });
      return;
    }
    const checked = checkFileValue(spec, value, layer.source);
    if (checked.ok) layer.values.set(key, { value: checked.value, source: layer.source });
    else problems.push(checked.problem);
    return;
  }
  if (CONFIG_TABLES.has(key)) {
    if (value === null || typeof value !== 'object' || Array.isArray(value) || value instanceof Date) {
      problems.push({ key, problem: 'must be a table', source: layer.source });
      return;
    }
    for (const [name, item] of Object.entries(value)) walk(`${key}.${name}`, item, layer, problems);
    return;
  }
  const guess = nearest(key, [...CONFIG_KEYS.map((s) => s.key), ...CONFIG_TABLES]);
  problems.push({ key, problem: `unknown key${guess === undefined ? '' : `; did you mean ${guess}?`}`, source: layer.source });
}

/** The layer of environment variables: every key whose variable is set (and not empty). */
export function environmentLayer(env: Readonly<Record<string, string | undefined>>, keys: readonly KeySpec[], problems: ConfigProblem[]): Layer {
  const layer: Layer = { source: 'environment', values: new Map(), meta: {} };
  for (const spec of keys) {
    const raw = env[spec.env];
    if (raw === undefined || raw.trim() === '') continue;
    const checked = checkEnvValue(spec, raw);
    if (checked.ok) layer.values.set(spec.key, { value: checked.value, source: spec.env });
    else problems.push(checked.problem);
  }
  return layer;
}
