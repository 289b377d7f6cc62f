import { cutText } from '../cut-text.ts';

/**
 * `text` on one line: each line break (with the blanks around it) becomes one space, so a
 * multi-line description or error message cannot split a table row or a watch line in two.
 */
export function oneLine(text: string): string {
  return text.includes('\n') || text.includes('\r') ? text.replace(/\s*[\r\n]+\s*/g, ' ').trim() : text;
}

/** Renders rows as left-aligned columns under a header, two spaces apart, for terminals. */
export function formatTable(header: readonly string[], cells: readonly (readonly string[])[]): string[] {
  const rows = cells.map((row) => row.map(oneLine));
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => (row[column] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((cell, column) => (column === cells.length - 1 ? cell : cell.padEnd(widths[column] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)];
}

/** `text` on one line, cut to `max` characters (the cut marked with an ellipsis). */
export function truncate(text: string, max: number): string {
  const line = oneLine(text);
  return line.length <= max ? line : `${cutText(line, Math.max(0, max - 1))}`;
}
