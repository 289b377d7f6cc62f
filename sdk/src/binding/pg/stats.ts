/** The counters of a pg core; `buffered`, `inFlight` and `claimSize` are read from the step book when asked. */
import type { CoreStats } from '../types.ts';

/** CoreStats without the gauges the step book knows. */
export type CoreCounters = Omit<CoreStats, 'binding' | 'buffered' | 'inFlight' | 'claimSize'>;

/** Fresh counters, all zero. */
export function newCounters(): CoreCounters {
  return {
    claimed: 0,
    discarded: 0,
    deferred: 0,
    claimRoundTrips: 0,
    reported: 0,
    rejected: 0,
    reportRoundTrips: 0,
    reportRetries: 0,
    leaseExtensions: 0,
    released: 0,
    reconnects: 0,
  };
}
