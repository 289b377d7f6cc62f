import { createHash } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  DuplicateMigrationVersionError,
  MigrationFileNameError,
  MigrationsDirError,
  defaultMigrationsDir,
  listMigrationFiles,
} from '../../src/index.ts';
import { tempDir, writeFiles, type TempDir } from '../support/temp-dir.ts';

let dir: TempDir | undefined;

afterEach(async () => {
  await dir?.remove();
  dir = undefined;
});

async function migrationsDir(files: Record<string, string>): Promise<string> {
  dir = await tempDir('tasker-migration-files');
  await writeFiles(dir.path, files);
  return dir.path;
}

describe('listMigrationFiles', () => {
  it('lists NNNN_name.sql files in numeric order with sha256 checksums', async () => {
    const path = await migrationsDir({
      '0010_later.sql': 'SELECT 10;',
      '0002_second.sql': 'SELECT 2;',
      '0001_first.sql': 'SELECT 1;',
      'README.md': 'not a migration',
    });
    await mkdir(join(path, 'pgmq'));
    const files = await listMigrationFiles(path);
    expect(files.map((file) => [file.version, file.name])).toEqual([
      [1, '0001_first.sql'],
      [2, '0002_second.sql'],
      [10, '0010_later.sql'],
    ]);
    expect(files[0]?.checksum).toBe(createHash('sha256').update('SELECT 1;').digest('hex'));
    expect(files[0]?.sql).toBe('SELECT 1;');
    expect(files[0]?.path).toBe(join(path, '0001_first.sql'));
  });

  it('rejects two files with one number', async () => {
    const path = await migrationsDir({ '0003_a.sql': '', '0003_b.sql': '' });
    const error = await listMigrationFiles(path).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DuplicateMigrationVersionError);
    expect((error as Error).message).toContain('0003_a.sql and 0003_b.sql');
  });

  it('rejects a misnamed .sql file rather than skipping it', async () => {
    const path = await migrationsDir({ '0001_ok.sql': '', '02_short.sql': '' });
    await expect(listMigrationFiles(path)).rejects.toThrow(MigrationFileNameError);
    await expect(listMigrationFiles(path)).rejects.toThrow(/02_short\.sql/);
  });

  it('reports a missing directory', async () => {
    await expect(listMigrationFiles('/nonexistent/tasker-migrations')).rejects.toThrow(MigrationsDirError);
  });

  it('finds the repository migrations directory by default', async () => {
    expect(defaultMigrationsDir()).toMatch(/[/\\]migrations$/);
    const files = await listMigrationFiles(defaultMigrationsDir());
    for (const file of files) expect(file.name).toMatch(/^\d{4}_.+\.sql$/);
  });
});
