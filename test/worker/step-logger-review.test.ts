/** Review tests for the step logger's redaction (docs/handlers.md#logging). */
import { describe, expect, it } from 'vitest';
import { createStepLogger, type LogRecord } from '../../sdk/src/handler/index.ts';

const ids = { taskId: 't-1', stepId: 's-1', stepName: 'charge', correlationId: 'c-1', handler: 'shop.charge' };

describe('step logger redaction', () => {
  it('does not leak part of a URL password when a long field value is truncated', () => {
    const records: LogRecord[] = [];
    const logger = createStepLogger((record) => records.push(record), ids);
    // A long text (a config dump, a response body) that holds a connection string near its
    // 10,000th character: the value is cut to 10,000 characters before the URL is redacted.
    const dump = `${'x'.repeat(9_980)} postgres://app:supersecretpassword@db/shop more text`;
    logger.info('loaded config', { config: dump });
    const logged = String(records[0]?.fields['config']);
    // docs/handlers.md: "passwords are removed from URLs (postgres://app:[REDACTED]@db/shop)".
    expect(logged.slice(9_975, 10_010)).not.toContain('supe');
  });
});

describe('a failing log writer', () => {
  it('never makes a log call throw, whatever the writer throws', () => {
    // A writer that throws a value String() cannot convert (a null-prototype object).
    const logger = createStepLogger(() => {
      throw Object.create(null) as object;
    }, ids);
    // docs/handlers.md: "a failing writer never fails the step".
    expect(() => logger.info('hello')).not.toThrow();
  });
});
