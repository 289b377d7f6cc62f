/** Tasker for TypeScript SDK. */
export * from './errors.ts';
export * from './db/index.ts';
export * from './protocol/index.ts';
export * from './handler/index.ts';
export * from './template/index.ts';
export * from './worker/index.ts';
export * from './client/index.ts';
export * from './orchestration/index.ts';
export * from './config/index.ts';
export * from './server/index.ts';
export * from './runtime.ts';
