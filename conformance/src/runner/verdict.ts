/**
 * Judging the matrix. A scenario passes in a cell when the run got through its script, its trace
 * meets the scenario's expectations, and its trace is the same as the other cells'. Cells are
 * compared against one group of identical traces: among the groups that meet the expectations
 * (all groups, when none does) the largest, ties going to the group holding a `pg` cell (the
 * reference implementation), then to the first cell. So one broken cell is the one named, not the
 * eight that agree — and a bug in the native core, shared by the six napi and ffi cells, does not
 * outvote the three pg cells that are right.
 */
import type { JsonValue } from '@tasker/sdk';
import { canonicalJson } from '../canonical-json.ts';
import type { Scenario } from '../scenario.ts';
import type { Cell } from './cells.ts';
import type { CellRun } from './cell-run.ts';
import { differences, show, unmet } from './compare.ts';
import type { ScenarioTrace } from './trace.ts';

/** The verdict on one scenario in one cell. */
export interface Verdict {
  scenario: string;
  cell: string;
  passed: boolean;
  timeMs: number;
  /** Readable lines, each naming the field that is wrong. */
  problems: string[];
  trace: ScenarioTrace | null;
}

const MAX_LINES = 12;

export function judge(scenarios: readonly Scenario[], cells: readonly CellRun[]): Verdict[] {
  const verdicts: Verdict[] = [];
  for (const scenario of scenarios) {
    const traced = cells.flatMap((cellRun) => {
      const trace = cellRun.runs.get(scenario.name)?.trace;
      return trace === null || trace === undefined ? [] : [{ cell: cellRun.cell, trace }];
    });
    const reference = referenceGroup(traced, scenario.expect);
    for (const cellRun of cells) {
      const run = cellRun.runs.get(scenario.name);
      const problems: string[] = [];
      if (run === undefined) problems.push(`not run: ${cellRun.error ?? 'the cell stopped before this scenario'}`);
      else if (run.error !== null) problems.push(`run failed: ${run.error}`);
      const trace = run?.trace ?? null;
      if (trace !== null) {
        const asJson = trace as unknown as JsonValue;
        const missed = unmet(scenario.expect, asJson);
        problems.push(...limit(missed.map((d) => `expected ${d.path}: ${show(d.left)}, got ${show(d.right)}`), 'unmet expectations'));
        if (reference !== undefined && !reference.cells.some((c) => c.id === cellRun.cell.id)) {
          const named = reference.cells.map((c) => c.id);
          const against = named.length > 3 ? `${named.slice(0, 3).join(', ')} and ${named.length - 3} more` : named.join(', ');
          const diffs = differences(reference.trace as unknown as JsonValue, asJson);
          problems.push(
            `trace differs from ${against}:`,
            ...limit(diffs.map((d) => `  ${d.path}: ${reference.cells[0]?.id ?? 'reference'} ${show(d.left)}, ${cellRun.cell.id} ${show(d.right)}`), 'differences'),
          );
        }
      }
      verdicts.push({ scenario: scenario.name, cell: cellRun.cell.id, passed: problems.length === 0, timeMs: run?.timeMs ?? 0, problems, trace });
    }
  }
  return verdicts;
}

function limit(lines: string[], what: string): string[] {
  return lines.length <= MAX_LINES ? lines : [...lines.slice(0, MAX_LINES), `  ... and ${lines.length - MAX_LINES} more ${what}`];
}

/** The group of identical traces to compare against (see the top of this file); undefined when fewer than two cells have a trace. */
function referenceGroup(
  traced: Array<{ cell: Cell; trace: ScenarioTrace }>,
  expected: JsonValue,
): { cells: Cell[]; trace: ScenarioTrace } | undefined {
  if (traced.length < 2) return undefined;
  const groups = new Map<string, { cells: Cell[]; trace: ScenarioTrace }>();
  for (const { cell, trace } of traced) {
    const key = canonicalJson(trace);
    const group = groups.get(key) ?? { cells: [], trace };
    group.cells.push(cell);
    groups.set(key, group);
  }
  const meets = (group: { trace: ScenarioTrace }): number => (unmet(expected, group.trace as unknown as JsonValue).length === 0 ? 1 : 0);
  const hasPg = (group: { cells: Cell[] }): number => (group.cells.some((c) => c.binding === 'pg') ? 1 : 0);
  return [...groups.values()].sort((a, b) => meets(b) - meets(a) || b.cells.length - a.cells.length || hasPg(b) - hasPg(a))[0];
}
