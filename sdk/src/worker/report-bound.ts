/**
 * How far a Worker's handlers may run ahead of the database: the number of finished steps whose
 * reports may be unanswered before no handler slot takes another step.
 */
import { resolveCoreConfig } from '../binding/pg/config.ts';
import type { WorkerCoreConfig } from '../binding/types.ts';

/**
 * Two report flushes' worth (2 × the core's `reportBatchMax`): one flush in flight while the next
 * fills. Benchmarks that drive a core the way the Worker does use the same bound.
 *
 * @example
 * maxReportsInFlight({ databaseUrl, workerId: 'w', namespaces: ['shop'] }); // 200 by default
 */
export function maxReportsInFlight(config: WorkerCoreConfig): number {
  return 2 * resolveCoreConfig(config).reportBatchMax;
}
