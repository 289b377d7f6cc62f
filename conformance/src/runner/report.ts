/**
 * The report of a run: the scenario × cell matrix (pass/fail and time) as text for the log, the
 * problems of every failure with the field that is wrong, and the whole run — verdicts with their
 * traces — as JSON for tools.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { CellRun } from './cell-run.ts';
import type { FleetResult } from './fleet.ts';
import type { Verdict } from './verdict.ts';

/** Everything a run produced. */
export interface RunReport {
  startedAt: string;
  wallMs: number;
  server: string;
  command: string;
  sabotage: string | null;
  cells: Array<{ cell: string; timeMs: number; error: string | null }>;
  scenarios: string[];
  verdicts: Verdict[];
  fleet: FleetResult | null;
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)}s`;
}

/** The matrix and the failures, as lines. */
export function formatReport(report: RunReport): string {
  const cellIds = report.cells.map((c) => c.cell);
  const nameWidth = Math.max(12, ...report.scenarios.map((s) => s.length)) + 2;
  const columnWidth = Math.max(11, ...cellIds.map((id) => id.length + 2));
  const lines: string[] = [];
  lines.push(`Conformance matrix (${report.server})`);
  lines.push('scenario'.padEnd(nameWidth) + cellIds.map((id) => id.padEnd(columnWidth)).join(''));
  for (const scenario of report.scenarios) {
    const row = cellIds.map((id) => {
      const verdict = report.verdicts.find((v) => v.scenario === scenario && v.cell === id);
      const mark = verdict === undefined ? '-' : verdict.passed ? 'ok' : 'FAIL';
      return `${mark} ${verdict === undefined ? '' : seconds(verdict.timeMs)}`.padEnd(columnWidth);
    });
    lines.push(scenario.padEnd(nameWidth) + row.join(''));
  }
  lines.push('cell total'.padEnd(nameWidth) + report.cells.map((c) => `${c.error === null ? '' : 'FAIL '}${seconds(c.timeMs)}`.padEnd(columnWidth)).join(''));
  if (report.fleet !== null) {
    const shares = Object.entries(report.fleet.stepsByRuntime)
      .map(([runtime, steps]) => `${runtime} ${steps}`)
      .join(', ');
    lines.push(
      `${'mixed_fleet'.padEnd(nameWidth)}${report.fleet.passed ? 'ok' : 'FAIL'} ${seconds(report.fleet.timeMs)}  ` +
        `${report.fleet.workers.join(' + ')}; steps claimed: ${shares}`,
    );
  }
  const failures = report.verdicts.filter((v) => !v.passed);
  for (const cellRun of report.cells) {
    if (cellRun.error === null) continue;
    const notRun = failures.filter((v) => v.cell === cellRun.cell && v.trace === null && v.problems.every((p) => p.startsWith('not run: ')));
    lines.push('', `FAIL cell ${cellRun.cell}: ${cellRun.error}${notRun.length === 0 ? '' : ` (${notRun.length} scenarios not run)`}`);
  }
  // A scenario the failed cell never ran is said once, in the cell's line above.
  const detailed = failures.filter((v) => v.trace !== null || !v.problems.every((p) => p.startsWith('not run: ')));
  for (const verdict of detailed) lines.push('', `FAIL ${verdict.scenario} [${verdict.cell}]`, ...verdict.problems.map((p) => `  ${p}`));
  if (report.fleet !== null && !report.fleet.passed) lines.push('', 'FAIL mixed_fleet', ...report.fleet.problems.map((p) => `  ${p}`));
  const passed = report.verdicts.length - failures.length;
  lines.push(
    '',
    `${failures.length === 0 && report.cells.every((c) => c.error === null) && report.fleet?.passed !== false ? 'PASSED' : 'FAILED'}: ` +
      `${passed}/${report.verdicts.length} scenario runs passed` +
      `${report.fleet === null ? '' : `, mixed fleet ${report.fleet.passed ? 'passed' : 'failed'}`}, wall time ${seconds(report.wallMs)}`,
  );
  return lines.map((line) => line.trimEnd()).join('\n');
}

/** True when every scenario passed in every cell, no cell failed and the fleet (if run) passed. */
export function reportPassed(report: RunReport): boolean {
  return report.verdicts.every((v) => v.passed) && report.cells.every((c) => c.error === null) && report.fleet?.passed !== false;
}

/** Writes the report as JSON. */
export function writeReport(path: string, report: RunReport): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, `${JSON.stringify(report, null, 2)}\n`);
}

/** The cells part of a report. */
export function cellSummaries(cells: readonly CellRun[]): RunReport['cells'] {
  return cells.map((c) => ({ cell: c.cell.id, timeMs: c.timeMs, error: c.error }));
}
