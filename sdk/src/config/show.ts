/**
 * `config show`: every key of a context with its effective value and where the value came from.
 * DATABASE_URL is shown with its password replaced, like everywhere else.
 */
import { redactDatabaseUrl } from '../db/database-url.ts';
import { keysOf } from './load.ts';
import { flatValues } from './resolve.ts';
import { tomlValue } from './toml-out.ts';
import type { TaskerConfig } from './types.ts';

/** One row of `config show`. */
export interface ShownKey {
  key: string;
  value: string;
  source: string;
  env: string;
}

/** The rows for the config's context: common keys, then the context's own. */
export function describeConfig(config: TaskerConfig): ShownKey[] {
  const values = flatValues(config);
  return keysOf(config.context).map((spec) => {
    const value = values.get(spec.key);
    let shown: string;
    if (value === undefined) shown = `(${spec.computedDefault ?? 'unset'})`;
    else if (spec.key === 'common.database.url' && typeof value === 'string') shown = redactDatabaseUrl(value);
    else shown = tomlValue(value);
    return { key: spec.key, value: shown, source: config.sources[spec.key] ?? 'default', env: spec.env };
  });
}
