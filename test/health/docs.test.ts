/**
 * docs/health.md names every metric the servers export, and no metric that does not exist: the
 * code is the source, the page must follow it.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

const SERVER_DIR = fileURLToPath(new URL('../../sdk/src/server/', import.meta.url));

async function sources(dir: string): Promise<string> {
  const entries = await readdir(dir, { withFileTypes: true });
  const texts = await Promise.all(
    entries.map((entry) => (entry.isDirectory() ? sources(join(dir, entry.name)) : entry.name.endsWith('.ts') ? readFile(join(dir, entry.name), 'utf8') : '')),
  );
  return texts.join('\n');
}

it('docs/health.md documents exactly the metrics the servers register', async () => {
  const code = await sources(SERVER_DIR);
  const registered = new Set([...code.matchAll(/'(tasker_[a-z_]+)'/g)].map((m) => m[1] ?? ''));
  const page = await readFile(new URL('../../docs/health.md', import.meta.url), 'utf8');
  const documented = new Set([...page.matchAll(/`(tasker_[a-z_]+)(?:\{[^`]*\})?[^`]*`/g)].map((m) => m[1] ?? ''));
  expect(registered.size).toBeGreaterThan(20);
  expect([...registered].filter((name) => !documented.has(name)).sort()).toEqual([]);
  expect([...documented].filter((name) => !registered.has(name)).sort()).toEqual([]);
});
