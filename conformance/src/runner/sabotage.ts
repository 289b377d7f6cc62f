/**
 * The runner's side of the sabotage switch: TASKER_CONFORMANCE_SABOTAGE=<kind>[@<cell>] breaks
 * one cell on purpose (the last cell of the run when none is named), so that one can watch the
 * suite catch it. Only that cell's workers get the variable; see handlers/sabotage.ts for what
 * each kind does inside the worker.
 */
import { SABOTAGE_KINDS, workerSabotage, type SabotageKind } from '../handlers/sabotage.ts';
import { parseCells, type Cell } from './cells.ts';

/** A sabotage to apply: what, and in which cell. */
export interface Sabotage {
  kind: SabotageKind;
  cell: Cell;
}

/** Reads the switch; undefined when it is off. Throws on an unknown kind or cell. */
export function parseSabotage(value: string | undefined, cells: readonly Cell[]): Sabotage | undefined {
  if (value === undefined || value === '') return undefined;
  const [kindText = '', cellText] = value.split('@');
  const kind = workerSabotage(kindText);
  if (kind === undefined) throw new Error(`TASKER_CONFORMANCE_SABOTAGE=${value}: expected one of ${SABOTAGE_KINDS.join(', ')}, optionally @runtime/binding`);
  const target = cellText === undefined ? cells[cells.length - 1] : parseCells(cellText)[0];
  if (target === undefined) throw new Error(`TASKER_CONFORMANCE_SABOTAGE=${value}: no cell to sabotage`);
  if (!cells.some((candidate) => candidate.id === target.id)) {
    throw new Error(`TASKER_CONFORMANCE_SABOTAGE=${value}: cell ${target.id} is not part of this run`);
  }
  return { kind, cell: target };
}
