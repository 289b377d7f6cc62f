import type { TaskTemplate, TemplateStep } from '../../sdk/src/protocol/index.ts';

/** A template with the given steps in namespace `ns` (default `test_ns`). */
export function template(name: string, steps: TemplateStep[], namespace = 'test_ns'): TaskTemplate {
  return { namespace, name, version: '1.0.0', steps };
}

/** a -> (b, c) -> d */
export function diamond(namespace = 'test_ns'): TaskTemplate {
  return template(
    'diamond',
    [
      { name: 'a', handler: 'h.a' },
      { name: 'b', handler: 'h.b', dependencies: ['a'] },
      { name: 'c', handler: 'h.c', dependencies: ['a'] },
      { name: 'd', handler: 'h.d', dependencies: ['b', 'c'] },
    ],
    namespace,
  );
}

/** One step, with optional settings. */
export function single(namespace = 'test_ns', step: Partial<TemplateStep> = {}): TaskTemplate {
  return template('single', [{ name: 'only', handler: 'h.only', ...step }], namespace);
}

/**
 * split (batch) -> work (its batch worker step) -> merge (the convergence step). `work` has
 * inputs, retry and timeout settings of its own, so tests can see its instances copy them.
 */
export function batchPipeline(namespace = 'test_ns', options: { convergence?: boolean } = {}): TaskTemplate {
  const steps: TemplateStep[] = [
    { name: 'split', handler: 'h.split', type: 'batch' },
    {
      name: 'work',
      handler: 'h.work',
      dependencies: ['split'],
      inputs: { factor: 10, batch_index: 'overridden' },
      retry: { max_attempts: 2, backoff_ms: 0, max_backoff_ms: 0 },
      timeout_ms: 4321,
      max_deliveries: 7,
    },
  ];
  if (options.convergence !== false) steps.push({ name: 'merge', handler: 'h.merge', dependencies: ['work'] });
  return template('batch_pipeline', steps, namespace);
}
