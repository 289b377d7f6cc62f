/**
 * The conformance suite's judging, on hand-made traces: the checks can fail. A step claimed
 * before its dependency finished, a step completed twice and a task completed early are each
 * reported; a differing field is named with both values; a partial expectation names what it
 * misses; and one cell out of line is the one blamed, not the cells that agree — unless they
 * agree on something the scenario does not expect.
 */
import { describe, expect, it } from 'vitest';
import { cell } from '../../conformance/src/runner/cells.ts';
import type { CellRun } from '../../conformance/src/runner/cell-run.ts';
import { differences, unmet } from '../../conformance/src/runner/compare.ts';
import { orderingViolations, type StepTransitionRow } from '../../conformance/src/runner/ordering.ts';
import type { ScenarioTrace } from '../../conformance/src/runner/trace.ts';
import { judge } from '../../conformance/src/runner/verdict.ts';
import type { Scenario } from '../../conformance/src/scenario.ts';

const T = 'task-1';
const at = (step: string, to_state: string, us: number, delivery = 1): StepTransitionRow => ({
  task_id: T,
  step,
  to_state,
  attempt: 1,
  delivery,
  at_us: String(1_700_000_000_000_000 + us),
});
const labels = new Map([[T, 'task']]);

describe('ordering constraints', () => {
  const edges = [{ task_id: T, from_step: 'a', to_step: 'b' }];

  it('hold for a step claimed after its dependency completed', () => {
    const rows = [at('a', 'in_progress', 1), at('a', 'complete', 2), at('b', 'in_progress', 3), at('b', 'complete', 4)];
    expect(orderingViolations(labels, rows, edges, [{ task_id: T, to_state: 'complete', at_us: rows[3]!.at_us }])).toEqual([]);
  });

  it('name a step claimed before its dependency finished, a double completion and an early task completion', () => {
    const rows = [at('a', 'in_progress', 1), at('b', 'in_progress', 2), at('a', 'complete', 3), at('b', 'complete', 4), at('b', 'complete', 5, 2)];
    const finish = [{ task_id: T, to_state: 'complete', at_us: rows[3]!.at_us }];
    expect(orderingViolations(labels, rows, edges, finish)).toEqual([
      'task: b completed 2 times',
      'task: b started (attempt 1, delivery 1) before its dependency a finished',
      'task: the task completed before its last step finished',
    ]);
  });
});

describe('comparing traces', () => {
  it('names every differing field with both values', () => {
    expect(differences({ steps: { d: { state: 'complete', sum: 3 } } }, { steps: { d: { state: 'error' } } })).toEqual([
      { path: 'steps.d.state', left: 'complete', right: 'error' },
      { path: 'steps.d.sum', left: 3, right: undefined },
    ]);
    expect(differences({ list: [1, 2] }, { list: [1, 2] })).toEqual([]);
  });

  it('checks a partial expectation field by field; arrays compare whole', () => {
    const trace = { tasks: { task: { state: 'complete', steps: { a: { path: ['x', 'y'], result: { sum: 1 } } } } } };
    expect(unmet({ tasks: { task: { state: 'complete' } } }, trace)).toEqual([]);
    expect(unmet({ tasks: { task: { steps: { a: { path: ['x'], result: { sum: 2 } } } } } }, trace).map((d) => d.path)).toEqual([
      'tasks.task.steps.a.path',
      'tasks.task.steps.a.result.sum',
    ]);
  });
});

describe('judging the matrix', () => {
  const scenario = { name: 'demo', expect: { tasks: { task: { state: 'complete' } } } } as unknown as Scenario;
  const trace = (state: string): ScenarioTrace => ({ tasks: { task: { state, path: [], steps: {}, copies: 1 } }, ordering: [], observations: {} });
  const runOf = (id: ReturnType<typeof cell>, state: string): CellRun => ({
    cell: id,
    runs: new Map([['demo', { trace: trace(state), error: null, timeMs: 5 }]]),
    error: null,
    timeMs: 5,
  });

  it('blames the one cell that differs from the others', () => {
    const verdicts = judge([scenario], [runOf(cell('node', 'napi'), 'complete'), runOf(cell('bun', 'ffi'), 'error'), runOf(cell('deno', 'pg'), 'complete')]);
    expect(verdicts.map((v) => [v.cell, v.passed])).toEqual([
      ['node/napi', true],
      ['bun/ffi', false],
      ['deno/pg', true],
    ]);
    const problems = verdicts[1]!.problems.join('\n');
    expect(problems).toContain('expected tasks.task.state: "complete", got "error"');
    expect(problems).toContain('trace differs from node/napi, deno/pg:');
    expect(problems).toContain('tasks.task.state: node/napi "complete", bun/ffi "error"');
  });

  it('compares against the cells that meet the expectations, even when they are fewer', () => {
    const cells = [runOf(cell('node', 'napi'), 'error'), runOf(cell('node', 'ffi'), 'error'), runOf(cell('node', 'pg'), 'complete')];
    const verdicts = judge([scenario], cells);
    expect(verdicts.map((v) => [v.cell, v.passed])).toEqual([
      ['node/napi', false],
      ['node/ffi', false],
      ['node/pg', true],
    ]);
    expect(verdicts[0]!.problems.join('\n')).toContain('trace differs from node/pg:');
  });

  it('on a tie takes the pg cell as the reference', () => {
    const verdicts = judge([{ ...scenario, expect: {} }], [runOf(cell('node', 'napi'), 'error'), runOf(cell('node', 'pg'), 'complete')]);
    expect(verdicts.map((v) => [v.cell, v.passed])).toEqual([
      ['node/napi', false],
      ['node/pg', true],
    ]);
  });
});
