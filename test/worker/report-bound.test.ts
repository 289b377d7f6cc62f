/** The Worker's bound on unanswered reports (sdk/src/worker/report-bound.ts). */
import { describe, expect, it } from 'vitest';
import { InvalidWorkerCoreConfigError } from '../../sdk/src/binding/index.ts';
import { maxReportsInFlight } from '../../sdk/src/worker/index.ts';

const base = { databaseUrl: 'postgres://u@localhost/db', workerId: 'w', namespaces: ['shop'] };

describe('maxReportsInFlight', () => {
  it('is two report flushes: 200 by default, 2 × reportBatchMax when set', () => {
    expect(maxReportsInFlight(base)).toBe(200);
    expect(maxReportsInFlight({ ...base, reportBatchMax: 50 })).toBe(100);
    expect(maxReportsInFlight({ ...base, reportBatchMax: 1 })).toBe(2);
  });

  it('refuses a configuration the core would refuse', () => {
    expect(() => maxReportsInFlight({ ...base, reportBatchMax: 0 })).toThrow(InvalidWorkerCoreConfigError);
  });
});
