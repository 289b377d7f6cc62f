import { describe, expect, it } from 'vitest';
import {
  InvalidDatabaseUrlError,
  InvalidIdentifierError,
  parseDatabaseUrl,
  quoteIdentifier,
  redactDatabaseUrl,
  redactPasswordIn,
  withDatabaseName,
} from '../../src/index.ts';

describe('redactDatabaseUrl', () => {
  it('replaces the password with *** and keeps user, host, port and database', () => {
    expect(redactDatabaseUrl('postgres://tasker:s3cret@127.0.0.1:5432/app')).toBe('postgres://tasker:***@127.0.0.1:5432/app');
  });

  it('leaves a URL without password as user@host:port/db', () => {
    expect(redactDatabaseUrl('postgresql://app@db.internal:6543/tasks')).toBe('postgresql://app@db.internal:6543/tasks');
  });

  it('masks a percent-encoded password and secret query parameters', () => {
    const url = 'postgres://u:p%40ss%2Fw0rd@host/db?sslmode=require&password=other&sslpassword=x';
    const redacted = redactDatabaseUrl(url);
    expect(redacted).toBe('postgres://u:***@host/db?sslmode=require&password=***&sslpassword=***');
    expect(redacted).not.toMatch(/p%40ss|p@ss|other/);
  });

  it('never echoes something it cannot parse', () => {
    expect(redactDatabaseUrl('not a url with s3cret')).toBe('<unparseable database URL>');
    expect(redactDatabaseUrl('http://u:s3cret@host/db')).toBe('<unparseable database URL>');
  });

  it('masks passwords in keyword/value connection strings', () => {
    expect(redactDatabaseUrl("host=db user=app password=s3cret dbname=x")).toBe('host=db user=app password=*** dbname=x');
    expect(redactDatabaseUrl("host=db password='a b'")).toBe('host=db password=***');
  });
});

describe('database URL helpers', () => {
  it('parses the parts, decoded', () => {
    const parts = parseDatabaseUrl('postgres://us%20er:p%40ss@[::1]:5433/my%20db?application_name=x');
    expect(parts).toMatchObject({ user: 'us er', password: 'p@ss', host: '[::1]', port: '5433', database: 'my db' });
    expect(parts.params.get('application_name')).toBe('x');
  });

  it('rejects other schemes without repeating the URL', () => {
    const error = (() => {
      try {
        parseDatabaseUrl('mysql://root:s3cret@host/db');
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(InvalidDatabaseUrlError);
    expect(String((error as Error).message)).not.toContain('s3cret');
  });

  it('swaps the database and keeps credentials and parameters', () => {
    expect(withDatabaseName('postgres://u:p%40ss@h:1/a?sslmode=disable', 'b')).toBe('postgres://u:p%40ss@h:1/b?sslmode=disable');
  });

  it('masks a password wherever a message repeats it', () => {
    const url = 'postgres://u:hunter2@h:1/a';
    expect(redactPasswordIn(`failed for ${url} (hunter2)`, url)).toBe('failed for postgres://u:***@h:1/a (***)');
  });
});

describe('quoteIdentifier', () => {
  it('double-quotes and escapes embedded quotes', () => {
    expect(quoteIdentifier('plain')).toBe('"plain"');
    expect(quoteIdentifier('we"ird; DROP')).toBe('"we""ird; DROP"');
  });

  it('rejects names PostgreSQL would truncate or cannot store', () => {
    expect(() => quoteIdentifier('')).toThrow(InvalidIdentifierError);
    expect(() => quoteIdentifier('a\0b')).toThrow(InvalidIdentifierError);
    expect(() => quoteIdentifier('x'.repeat(64))).toThrow(/longer than 63 bytes/);
    expect(quoteIdentifier('x'.repeat(63))).toHaveLength(65);
  });
});
