/**
 * docs/config.md lists every key with its variable and default, and no key that does not exist:
 * the schema is the source, the page must follow it.
 */
import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { CONFIG_KEYS } from '../../sdk/src/config/index.ts';
import { tomlValue } from '../../sdk/src/config/toml-out.ts';

const page = await readFile(new URL('../../docs/config.md', import.meta.url), 'utf8');
const rows = new Map(
  [...page.matchAll(/^\| `([a-z_.]+)` \| `([A-Z_]+)` \| ([^|]+) \|/gm)].map((m) => [m[1] ?? '', { env: m[2], fallback: (m[3] ?? '').trim() }]),
);

describe('docs/config.md', () => {
  it.each(CONFIG_KEYS.map((spec) => [spec.key, spec] as const))('documents %s', (_key, spec) => {
    const row = rows.get(spec.key);
    expect(row, `no table row for ${spec.key}`).toBeDefined();
    expect(row?.env).toBe(spec.env);
    if (spec.default !== undefined) expect(row?.fallback).toBe(`\`${tomlValue(spec.default)}\``);
  });

  it('documents no key the schema lacks', () => {
    const known = new Set(CONFIG_KEYS.map((spec) => spec.key));
    expect([...rows.keys()].filter((key) => !known.has(key))).toEqual([]);
  });
});
