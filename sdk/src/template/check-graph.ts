/**
 * Checks of the dependency graph: every dependency names another step of the template, once,
 * and the steps form no cycle. A cycle is reported with the steps on it, in order, the way the
 * SQL validation words it: `dependency cycle: a depends on b depends on a`.
 */
import { describe, isFields, type TemplateChecker } from './template-checker.ts';

/** Reads and checks `dependencies` of every step; returns them by step index (undefined where not written). */
export function checkDependencies(
  checker: TemplateChecker,
  rawSteps: readonly unknown[],
  names: readonly string[],
): Array<string[] | undefined> {
  const known = new Set(names);
  return rawSteps.map((raw, index) => {
    const path = ['steps', index, 'dependencies'] as const;
    const name = names[index] as string;
    const value = isFields(raw) ? raw['dependencies'] : undefined;
    if (value === undefined || value === null) return undefined;
    if (!Array.isArray(value)) checker.fail(path, `must be a list of step names, got ${describe(value)}`);
    const deps: string[] = [];
    value.forEach((dep: unknown, depIndex) => {
      const depPath = [...path, depIndex];
      if (typeof dep !== 'string') checker.fail(depPath, `must be a step name (a string), got ${describe(dep)}`);
      if (dep === name) checker.fail(depPath, `step "${name}" depends on itself`);
      if (!known.has(dep)) {
        checker.fail(depPath, `step "${name}" depends on unknown step "${dep}"; the steps are: ${names.join(', ')}`);
      }
      if (deps.includes(dep)) checker.fail(depPath, `step "${name}" lists dependency "${dep}" twice`);
      deps.push(dep);
    });
    return deps;
  });
}

/** Fails on the first dependency cycle, naming its steps. Iterative, so 10,000-step chains are fine. */
export function checkAcyclic(checker: TemplateChecker, names: readonly string[], dependencies: readonly string[][]): void {
  const indexOf = new Map(names.map((name, index) => [name, index]));
  // 0: not visited, 1: on the current path, 2: done (no cycle through it).
  const state = new Uint8Array(names.length);
  for (let root = 0; root < names.length; root++) {
    if (state[root] !== 0) continue;
    const stack: Array<{ index: number; next: number }> = [{ index: root, next: 0 }];
    state[root] = 1;
    while (stack.length > 0) {
      const frame = stack[stack.length - 1] as { index: number; next: number };
      const deps = dependencies[frame.index] ?? [];
      if (frame.next >= deps.length) {
        state[frame.index] = 2;
        stack.pop();
        continue;
      }
      const dep = indexOf.get(deps[frame.next++] as string) as number;
      if (state[dep] === 1) {
        const start = stack.findIndex((f) => f.index === dep);
        const cycle = [...stack.slice(start).map((f) => names[f.index] as string), names[dep] as string];
        checker.fail(['steps', dep, 'dependencies'], `dependency cycle: ${cycle.join(' depends on ')}`);
      }
      if (state[dep] === 0) {
        state[dep] = 1;
        stack.push({ index: dep, next: 0 });
      }
    }
  }
}
