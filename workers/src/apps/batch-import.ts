/**
 * Batch import (templates/batch_import.yaml): a fan-out. split_rows reads a CSV-like text
 * (`sku,quantity,price` lines) and returns fanOut(chunks): one process_chunk instance per chunk
 * checks and totals its rows in parallel, and merge_totals adds the chunks up. A row that does
 * not parse is counted as rejected (with its line number) rather than failing the import.
 */
import { PermanentError, defineHandler, fanOut, type JsonObject } from '@tasker/sdk';

type ImportContext = { csv: string; chunk_size?: number };

/** A run of lines for one instance; `first_line` is the 1-based line number of `lines[0]`. */
type Chunk = { first_line: number; lines: Array<{ line: number; text: string }> };

type ChunkTotals = { chunk: number; rows: number; quantity: number; amount_cents: number; rejected_lines: number[] };

type SplitResult = { rows: number; chunks: number; chunk_size: number };

const HEADER = 'sku,quantity,price';

export const splitRows = defineHandler<ImportContext>('batch_processing.split_rows', (ctx) => {
  const [header = '', ...rest] = ctx.context.csv.split(/\r?\n/);
  if (header.trim() !== HEADER) {
    throw new PermanentError(`the first line must be the header "${HEADER}", got ${JSON.stringify(header)}`);
  }
  const size = ctx.context.chunk_size ?? Number(ctx.inputs['default_chunk_size'] ?? 100);
  // Blank lines are skipped but keep their numbers, so rejected lines can be found in the file.
  const lines = rest.map((text, i) => ({ line: i + 2, text })).filter((l) => l.text.trim() !== '');
  const chunks: Chunk[] = [];
  for (let start = 0; start < lines.length; start += size) {
    const slice = lines.slice(start, start + size);
    chunks.push({ first_line: slice[0]?.line ?? 0, lines: slice });
  }
  const result: SplitResult = { rows: lines.length, chunks: chunks.length, chunk_size: size };
  return fanOut(chunks, result);
});

export const processChunk = defineHandler('batch_processing.process_chunk', (ctx) => {
  const { item, index } = ctx.batchItem<Chunk>();
  const totals: ChunkTotals = { chunk: index, rows: 0, quantity: 0, amount_cents: 0, rejected_lines: [] };
  for (const { line, text } of item.lines) {
    const [sku = '', quantity = '', price = ''] = text.split(',').map((field) => field.trim());
    const qty = Number(quantity);
    const cents = Math.round(Number(price) * 100);
    if (sku === '' || !Number.isInteger(qty) || qty < 1 || price === '' || !Number.isFinite(cents) || cents < 0) {
      totals.rejected_lines.push(line);
      continue;
    }
    totals.rows += 1;
    totals.quantity += qty;
    totals.amount_cents += qty * cents;
  }
  ctx.logger.info('chunk processed', { chunk: index, rows: totals.rows, rejected: totals.rejected_lines.length });
  return totals;
});

export const mergeTotals = defineHandler<ImportContext, { split_rows: SplitResult }>('batch_processing.merge_totals', (ctx) => {
  // Every chunk's totals, in chunk order; empty when the file had no rows.
  const chunks = ctx.batchResults<ChunkTotals>('process_chunk');
  const merged: JsonObject = {
    rows_read: ctx.dependencyResult('split_rows').rows,
    chunks: chunks.length,
    rows_imported: chunks.reduce((sum, c) => sum + c.rows, 0),
    quantity: chunks.reduce((sum, c) => sum + c.quantity, 0),
    amount: chunks.reduce((sum, c) => sum + c.amount_cents, 0) / 100,
    rejected_lines: chunks.flatMap((c) => c.rejected_lines),
  };
  return merged;
});

export const batchImportHandlers = [splitRows, processChunk, mergeTotals];
