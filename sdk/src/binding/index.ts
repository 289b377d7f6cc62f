/**
 * Worker-core bindings: the contract (types), the selector (loadBinding, TASKER_BINDING) and the
 * pure-TypeScript `pg` binding. The native bindings load lazily through loadBinding.
 */
export type {
  BindingModule,
  BindingName,
  CoreStats,
  DeploymentMode,
  DrainResult,
  WorkerCore,
  WorkerCoreConfig,
} from './types.ts';
export {
  BindingUnavailableError,
  InvalidWorkerCoreArgumentError,
  InvalidWorkerCoreConfigError,
  WorkerCoreClosedError,
  WorkerCoreSchemaMissingError,
} from './errors.ts';
export { BINDING_NAMES, loadBinding, resolveBindingName, type LoadBindingOptions } from './select.ts';
export { pgBinding } from './pg/index.ts';
