/**
 * Writes configuration values as TOML, one table per section, each key with its doc, its
 * environment variable and its default as a comment. Hand-written rather than a library's
 * stringify because the comments are the point: the generated file documents itself.
 */
import { CONFIG_KEYS, type ConfigValue, type KeySpec } from './schema.ts';

/** A key's line in the output: its value, or a commented-out example when it is unset. */
export interface OutputEntry {
  spec: KeySpec;
  /** The value to write; undefined writes the key commented out, with `example` as its value. */
  value: ConfigValue | undefined;
  example?: ConfigValue;
}

/** TOML for top-level `header` pairs and the entries, grouped into tables in schema order. */
export function toToml(preamble: readonly string[], header: ReadonlyArray<[string, string]>, entries: readonly OutputEntry[]): string {
  const lines = [...preamble.map((line) => `# ${line}`.trimEnd())];
  if (lines.length > 0) lines.push('');
  for (const [key, value] of header) lines.push(`${key} = ${tomlValue(value)}`);
  const tables = new Map<string, OutputEntry[]>();
  const order = new Map(CONFIG_KEYS.map((spec, index) => [spec.key, index]));
  for (const entry of [...entries].sort((a, b) => (order.get(a.spec.key) ?? 0) - (order.get(b.spec.key) ?? 0))) {
    const table = entry.spec.key.slice(0, entry.spec.key.lastIndexOf('.'));
    tables.set(table, [...(tables.get(table) ?? []), entry]);
  }
  for (const [table, items] of tables) {
    lines.push('', `[${table}]`);
    for (const { spec, value, example } of items) {
      const name = spec.key.slice(table.length + 1);
      const fallback = spec.default !== undefined ? tomlValue(spec.default) : spec.computedDefault;
      lines.push(`# ${spec.doc}`, `# ${spec.env}; default ${fallback ?? 'none'}.`);
      if (value !== undefined) lines.push(`${name} = ${tomlValue(value)}`);
      else if (example !== undefined) lines.push(`# ${name} = ${tomlValue(example)}`);
    }
  }
  return `${lines.join('\n')}\n`;
}

/** A TOML literal. JSON's string escapes are a subset of TOML basic-string escapes. */
export function tomlValue(value: ConfigValue): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return `[${value.map((item) => JSON.stringify(item)).join(', ')}]`;
}
