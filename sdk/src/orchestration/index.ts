/** The orchestration service: migrations, template registration, sweeps. */
export {
  Orchestrator,
  type OrchestratorOptions,
  type OrchestratorStartResult,
  type OrchestratorStats,
} from './orchestrator.ts';
export { sweepOnce, type SweepResult } from './sweeper.ts';
