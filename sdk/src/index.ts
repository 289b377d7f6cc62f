/** Tasker for TypeScript SDK. */
export * from './errors.ts';
export * from './db/index.ts';
export * from './protocol/index.ts';
