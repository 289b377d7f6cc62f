/** Options the config commands share: --context and --environment, checked the same way. */
import { CONFIG_CONTEXTS, type ConfigContext } from '../../config/types.ts';
import { UsageError } from '../../errors.ts';

/** A --context value; undefined when not given and not `required`. */
export function contextOption(value: string | undefined, required: true): ConfigContext;
export function contextOption(value: string | undefined, required: false): ConfigContext | undefined;
export function contextOption(value: string | undefined, required: boolean): ConfigContext | undefined {
  if (value === undefined) {
    if (required) throw new UsageError(`--context is required: ${CONFIG_CONTEXTS.join(' or ')}`);
    return undefined;
  }
  const context = CONFIG_CONTEXTS.find((candidate) => candidate === value);
  if (context === undefined) throw new UsageError(`--context expects ${CONFIG_CONTEXTS.join(' or ')}, got "${value}"`);
  return context;
}
