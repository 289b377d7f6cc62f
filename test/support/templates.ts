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
