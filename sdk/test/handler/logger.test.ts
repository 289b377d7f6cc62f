import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  REDACTED,
  createLogWriter,
  createStepLogger,
  defaultLogWriter,
  isSecretKey,
  redactText,
  type LogRecord,
} from '../../src/handler/index.ts';

const ids = { taskId: 't-9', stepId: 's-9', stepName: 'charge', correlationId: 'c-9', handler: 'shop.charge' };

function capture(): { records: LogRecord[]; logger: ReturnType<typeof createStepLogger> } {
  const records: LogRecord[] = [];
  return { records, logger: createStepLogger((r) => records.push(r), ids) };
}

describe('createStepLogger', () => {
  it('puts the step ids on every line, at every level', () => {
    const { records, logger } = capture();
    logger.debug('d');
    logger.info('i', { amount: 3 });
    logger.warn('w');
    logger.error('e');
    expect(records.map((r) => r.level)).toEqual(['debug', 'info', 'warn', 'error']);
    for (const record of records) expect(record.fields).toMatchObject(ids);
    expect(records[1]?.fields['amount']).toBe(3);
    expect(new Date(records[0]?.time ?? '').toISOString()).toBe(records[0]?.time);
  });

  it('does not let a field pretend the line belongs to another step', () => {
    const { records, logger } = capture();
    logger.info('x', { stepId: 'other', taskId: 'other' });
    expect(records[0]?.fields).toMatchObject({ stepId: 's-9', taskId: 't-9' });
  });

  it('redacts secret-looking keys at any depth, but keeps counts and flags', () => {
    const { records, logger } = capture();
    logger.info('calling', {
      password: 'hunter2',
      DATABASE_URL: 'postgres://u:p@h/db',
      request: { headers: { Authorization: 'Bearer abc', accept: 'json' }, apiKey: 'k-1' },
      tokenCount: 1200,
      hasSecret: true,
      credentials: { user: 'u', pass: 'p' },
    });
    expect(records[0]?.fields).toMatchObject({
      password: REDACTED,
      DATABASE_URL: REDACTED,
      request: { headers: { Authorization: REDACTED, accept: 'json' }, apiKey: REDACTED },
      tokenCount: 1200,
      hasSecret: true,
      credentials: REDACTED,
    });
  });

  it('removes passwords from postgres URLs in messages and values', () => {
    const { records, logger } = capture();
    logger.error('cannot connect to postgres://app:s3cr%40t@db.internal:5432/shop?sslmode=require', {
      target: 'postgresql://app:s3cret@db/x',
      note: 'host=db password=s3cret user=app',
    });
    const text = JSON.stringify(records[0]);
    expect(text).not.toContain('s3cr');
    expect(records[0]?.message).toBe(`cannot connect to postgres://app:${REDACTED}@db.internal:5432/shop?sslmode=require`);
    expect(records[0]?.fields['target']).toBe(`postgresql://app:${REDACTED}@db/x`);
    expect(records[0]?.fields['note']).toBe(`host=db password=${REDACTED} user=app`);
  });

  it('logs errors, BigInt, circular objects and throwing getters without throwing', () => {
    const { records, logger } = capture();
    const loop: Record<string, unknown> = { name: 'loop' };
    loop['self'] = loop;
    const error = Object.assign(new Error('failed at postgres://a:b@h/d'), { code: 'ECONNREFUSED' });
    const hostile = Object.defineProperty({}, 'boom', { enumerable: true, get: () => { throw new Error('getter'); } });
    logger.warn('odd values', { error, big: 10n, loop, hostile, fn: function named() {}, when: new Date(0), tags: new Set(['a']) });
    const fields = records[0]?.fields ?? {};
    expect(fields['error']).toMatchObject({ name: 'Error', message: `failed at postgres://a:${REDACTED}@h/d`, code: 'ECONNREFUSED' });
    expect(fields['big']).toBe('10n');
    expect(fields['loop']).toEqual({ name: 'loop', self: '[circular]' });
    expect(fields['hostile']).toEqual({ boom: '[getter threw: getter]' });
    expect(fields['fn']).toBe('[function named]');
    expect(fields['when']).toBe('1970-01-01T00:00:00.000Z');
    expect(fields['tags']).toEqual(['a']);
    expect(() => JSON.stringify(records[0])).not.toThrow();
  });

  it('never throws when the writer does, and says so once', () => {
    const spy = vi.spyOn(console, 'error').mockImplementation(() => {});
    try {
      const logger = createStepLogger(() => {
        throw new Error('disk full');
      }, ids);
      expect(() => {
        logger.info('a');
        logger.info('b');
      }).not.toThrow();
      expect(spy).toHaveBeenCalledTimes(1);
      expect(String(spy.mock.calls[0]?.[0])).toContain('disk full');
    } finally {
      spy.mockRestore();
    }
  });
});

describe('redaction rules', () => {
  it.each(['password', 'db_password', 'PASSWORD', 'secret', 'clientSecret', 'token', 'access_token', 'authorization', 'api_key', 'apiKey', 'database_url', 'databaseUrl', 'connectionString', 'private-key', 'cookie', 'pwd', 'auth'])(
    '%s is a secret key',
    (key) => expect(isSecretKey(key)).toBe(true),
  );

  it.each(['name', 'author', 'url', 'host', 'passenger', 'user'])('%s is not', (key) => expect(isSecretKey(key)).toBe(false));

  it('redacts bearer tokens and URL credentials in free text', () => {
    expect(redactText('Authorization: Bearer eyJhbGciOi.abc-def')).toBe(`Authorization: Bearer ${REDACTED}`);
    expect(redactText('https://user:pw@example.com/x and https://example.com:8080/y')).toBe(
      `https://user:${REDACTED}@example.com/x and https://example.com:8080/y`,
    );
  });
});

describe('log writers', () => {
  const record: LogRecord = {
    level: 'info',
    message: 'charged',
    time: '2025-01-01T00:00:00.000Z',
    fields: { stepName: 'charge', amount: 12.5, note: 'two words', password: 'x' },
  };

  it('pretty: one readable line', () => {
    const lines: string[] = [];
    createLogWriter({ output: (l) => lines.push(l) })(record);
    expect(lines).toEqual([`2025-01-01T00:00:00.000Z INFO  charged  stepName=charge amount=12.5 note="two words" password=${REDACTED}`]);
  });

  it('json: one object per line, record keys not overwritten by fields', () => {
    const lines: string[] = [];
    createLogWriter({ format: 'json', output: (l) => lines.push(l) })({ ...record, fields: { ...record.fields, level: 'x', message: 'y' } });
    expect(JSON.parse(lines[0] ?? '')).toEqual({
      stepName: 'charge',
      amount: 12.5,
      note: 'two words',
      password: REDACTED,
      time: '2025-01-01T00:00:00.000Z',
      level: 'info',
      message: 'charged',
    });
  });

  it('drops records below the level', () => {
    const lines: string[] = [];
    const write = createLogWriter({ level: 'warn', output: (l) => lines.push(l) });
    write({ ...record, level: 'info' });
    write({ ...record, level: 'error' });
    expect(lines).toHaveLength(1);
  });

  describe('defaultLogWriter', () => {
    let spy: ReturnType<typeof vi.spyOn>;
    const saved = { env: process.env['TASKER_ENV'], level: process.env['TASKER_LOG_LEVEL'] };
    beforeEach(() => {
      spy = vi.spyOn(console, 'error').mockImplementation(() => {});
    });
    afterEach(() => {
      spy.mockRestore();
      for (const [key, value] of [['TASKER_ENV', saved.env], ['TASKER_LOG_LEVEL', saved.level]] as const) {
        if (value === undefined) delete process.env[key];
        else process.env[key] = value;
      }
    });

    it('writes JSON lines to stderr in production and readable lines otherwise', () => {
      process.env['TASKER_ENV'] = 'production';
      defaultLogWriter(record);
      process.env['TASKER_ENV'] = 'development';
      defaultLogWriter(record);
      const [json, pretty] = spy.mock.calls.map((c) => String(c[0]));
      expect(JSON.parse(json ?? '')).toMatchObject({ level: 'info', message: 'charged', password: REDACTED });
      expect(pretty).toMatch(/^2025-01-01T00:00:00.000Z INFO  charged/);
    });

    it('honours TASKER_LOG_LEVEL, and falls back to info on a bad value, saying so once', () => {
      process.env['TASKER_LOG_LEVEL'] = 'error';
      defaultLogWriter(record);
      expect(spy).not.toHaveBeenCalled();
      process.env['TASKER_LOG_LEVEL'] = 'loud';
      defaultLogWriter(record);
      defaultLogWriter(record);
      const lines = spy.mock.calls.map((c) => String(c[0]));
      expect(lines.filter((l) => l.includes('common.log.level: must be one of debug, info, warn, error, got "loud" (from TASKER_LOG_LEVEL)'))).toHaveLength(1);
      expect(lines.filter((l) => l.includes('charged'))).toHaveLength(2);
    });
  });
});
