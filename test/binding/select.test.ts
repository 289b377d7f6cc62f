/**
 * The binding selector (TASKER_BINDING, TASKER_BINDING_FALLBACK) and the pg binding's config
 * checks. The native modules are replaced by fakes here, so these tests mean the same whether or
 * not the native builds exist.
 */
import { describe, expect, it } from 'vitest';
import { InvalidConfigError, InvalidDatabaseUrlError } from '../../sdk/src/errors.ts';
import {
  BindingUnavailableError,
  InvalidWorkerCoreConfigError,
  loadBinding,
  pgBinding,
  resolveBindingName,
} from '../../sdk/src/binding/index.ts';
import { resolveCoreConfig } from '../../sdk/src/binding/pg/config.ts';
import type { BindingModule } from '../../sdk/src/binding/types.ts';

const missing = async (): Promise<never> => {
  throw Object.assign(new Error("Cannot find module './napi.ts'"), { code: 'ERR_MODULE_NOT_FOUND' });
};

const fakeNapi: BindingModule = {
  name: 'napi',
  createWorkerCore: () => Promise.reject(new Error('fake')),
  echo: (payload) => Promise.resolve(payload),
};

describe('loadBinding', () => {
  it('defaults to napi, reads TASKER_BINDING, and gives pg without importing anything', async () => {
    expect(resolveBindingName(undefined, {})).toBe('napi');
    expect(resolveBindingName(undefined, { TASKER_BINDING: '' })).toBe('napi');
    expect(resolveBindingName(undefined, { TASKER_BINDING: 'ffi' })).toBe('ffi');
    expect(resolveBindingName('pg', { TASKER_BINDING: 'ffi' })).toBe('pg');
    expect(await loadBinding(undefined, { env: { TASKER_BINDING: 'pg' }, importModule: missing })).toBe(pgBinding);
  });

  it('refuses an unknown TASKER_BINDING, naming the variable and the allowed values', async () => {
    const error = await loadBinding(undefined, { env: { TASKER_BINDING: 'wasm' } }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidConfigError);
    expect((error as Error).message).toBe('TASKER_BINDING="wasm" is invalid: expected one of napi, ffi, pg');
  });

  it('imports the native module from its path and checks its export', async () => {
    const asked: string[] = [];
    const binding = await loadBinding('napi', {
      env: {},
      importModule: async (specifier) => {
        asked.push(specifier);
        return { napiBinding: fakeNapi };
      },
    });
    expect(binding).toBe(fakeNapi);
    expect(asked).toEqual(['./napi.ts']);

    const ffiAsked: string[] = [];
    const wrong = await loadBinding('ffi', {
      env: {},
      importModule: async (specifier) => {
        ffiAsked.push(specifier);
        return { ffiBinding: fakeNapi }; // name 'napi': not the ffi binding
      },
    }).catch((e: unknown) => e);
    expect(ffiAsked).toEqual(['./ffi/index.ts']);
    expect(wrong).toBeInstanceOf(BindingUnavailableError);
    expect((wrong as Error).message).toMatch(/does not export a BindingModule named ffiBinding/);
  });

  it('says how to build a missing native binding', async () => {
    const error = await loadBinding('napi', { env: {}, importModule: missing }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BindingUnavailableError);
    expect(error).toMatchObject({ code: 'BINDING_UNAVAILABLE', binding: 'napi' });
    expect((error as Error).message).toMatch(/npm run build:native/);
    expect((error as Error).message).toMatch(/TASKER_BINDING=pg/);
  });

  it('falls back to pg with a warning only when allowed', async () => {
    const warnings: string[] = [];
    const viaEnv = await loadBinding('napi', {
      env: { TASKER_BINDING_FALLBACK: 'pg' },
      importModule: missing,
      warn: (message) => warnings.push(message),
    });
    expect(viaEnv).toBe(pgBinding);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/napi binding is not available.*falling back to the pg binding/);

    expect(await loadBinding('ffi', { env: {}, allowFallback: true, importModule: missing, warn: () => {} })).toBe(pgBinding);
    await expect(
      loadBinding('napi', { env: { TASKER_BINDING_FALLBACK: 'pg' }, allowFallback: false, importModule: missing }),
    ).rejects.toBeInstanceOf(BindingUnavailableError);
    await expect(loadBinding('napi', { env: { TASKER_BINDING_FALLBACK: 'yes' }, importModule: missing })).rejects.toThrow(
      'TASKER_BINDING_FALLBACK="yes" is invalid: expected none or pg (or unset)',
    );
    // `none`, as the config spells "no fallback" (worker.binding_fallback).
    await expect(
      loadBinding('napi', { env: { TASKER_BINDING_FALLBACK: 'none' }, importModule: missing }),
    ).rejects.toBeInstanceOf(BindingUnavailableError);
  });

  it('pg echo crosses no boundary', async () => {
    expect(await pgBinding.echo('{"x":1}')).toBe('{"x":1}');
  });
});

describe('pg worker core config', () => {
  const base = { databaseUrl: 'postgres://u:secret@localhost:5432/db', workerId: 'w', namespaces: ['ns'] };

  it('fills in the documented defaults', () => {
    expect(resolveCoreConfig(base)).toEqual({
      ...base,
      mode: 'Hybrid',
      prefetch: 200,
      batchSize: 10,
      maxBatchSize: 100,
      leaseSeconds: 30,
      heartbeatMs: 10_000,
      pollIntervalMs: 1000,
      reportBatchMax: 100,
      reportLingerMs: 0,
      poolSize: 4,
    });
    expect(resolveCoreConfig({ ...base, mode: 'PollingOnly', batchSize: 5, leaseSeconds: 1 })).toMatchObject({
      pollIntervalMs: 100,
      maxBatchSize: 100,
      prefetch: 200,
      heartbeatMs: 333,
    });
  });

  it('names the field it refuses, and never echoes the URL', () => {
    expect(() => resolveCoreConfig({ ...base, batchSize: 0 })).toThrow(InvalidWorkerCoreConfigError);
    expect(() => resolveCoreConfig({ ...base, batchSize: 0 })).toThrow(/batchSize must be an integer from 1 to 1000, got 0/);
    expect(() => resolveCoreConfig({ ...base, namespaces: [] })).toThrow(/namespaces must list at least one/);
    expect(() => resolveCoreConfig({ ...base, namespaces: ['Bad-Name'] })).toThrow(/namespaces contains "Bad-Name"/);
    expect(() => resolveCoreConfig({ ...base, mode: 'Sometimes' as never })).toThrow(/mode must be one of Hybrid/);
    expect(() => resolveCoreConfig({ ...base, reportLingerMs: -1 })).toThrow(/reportLingerMs/);
    expect(() => resolveCoreConfig({ ...base, workerId: '' })).toThrow(/workerId is required/);
    const bad = (() => {
      try {
        resolveCoreConfig({ ...base, databaseUrl: 'mysql://u:secret@h/db' });
      } catch (error) {
        return error;
      }
    })();
    expect(bad).toBeInstanceOf(InvalidDatabaseUrlError);
    expect((bad as Error).message).not.toMatch(/secret/);
  });
});
