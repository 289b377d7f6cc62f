/**
 * The cluster port rule (seed convention): instance i of a service serves REST on its base port
 * + i and gRPC on its gRPC base port + i, for up to ten instances on one host. The only place
 * the rule is written: the config's checks and the servers both use it.
 */

/** Instances per service a host may run: indexes 0 to 9. */
export const MAX_INSTANCES = 10;

/** The port instance `index` listens on; port 0 (any free port) stays 0. */
export function instancePort(basePort: number, index: number): number {
  return basePort === 0 ? 0 : basePort + index;
}
