/** tasker.v1.HealthService: the REST health endpoints' answers, over gRPC, Connect and gRPC-Web. */
import type { ServiceImpl } from '@connectrpc/connect';
import type { HealthService } from '../../gen/tasker/v1/health_pb.ts';
import type { HealthSource } from '../health-types.ts';
import { detailedMessage, livenessMessage, readinessMessage } from './health-convert.ts';

export function healthServiceImpl(source: HealthSource): ServiceImpl<typeof HealthService> {
  return {
    checkLiveness: () => livenessMessage(source.liveness()),
    checkReadiness: async () => readinessMessage(await source.readiness()),
    getDetailedHealth: async () => detailedMessage(await source.detailed()),
  };
}
