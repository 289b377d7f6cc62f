/**
 * docs/config.md "Example" quotes config/tasker/environments/production/worker.toml as
 * the file production ships ("config/tasker/base/worker.toml states the defaults; production
 * changes a few"). The quoted file and the real one must agree.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse } from 'smol-toml';
import { expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const PAGE = readFileSync(`${ROOT}docs/config.md`, 'utf8');
const FILE = 'config/tasker/environments/production/worker.toml';

/** The ```toml block of docs/config.md whose first line names FILE. */
function quotedFile(): Record<string, unknown> {
  const block = [...PAGE.matchAll(/^```toml\n([\s\S]*?)^```/gm)].map((m) => m[1] ?? '').find((b) => b.startsWith(`# ${FILE}`));
  if (block === undefined) throw new Error(`docs/config.md quotes no ${FILE}`);
  return parse(block) as Record<string, unknown>;
}

it(`docs/config.md quotes ${FILE} with the settings the real file has`, () => {
  const real = parse(readFileSync(ROOT + FILE, 'utf8')) as { worker?: Record<string, unknown> };
  const quoted = quotedFile() as { worker?: Record<string, unknown> };
  expect(quoted).toEqual(real);
});
