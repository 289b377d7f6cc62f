/** Every example app's handlers and namespaces, and where their templates live. */
import { fileURLToPath } from 'node:url';
import { approvalHandlers } from './approval.ts';
import { batchImportHandlers } from './batch-import.ts';
import { dataPipelineHandlers } from './data-pipeline.ts';
import { ecommerceHandlers } from './ecommerce.ts';
import { flakyHandlers } from './flaky.ts';

/** The namespaces the example templates use. */
export const EXAMPLE_NAMESPACES = ['ecommerce', 'data_pipeline', 'approvals', 'reliability', 'batch_processing'];

/** Every example handler. */
export const exampleHandlers = [
  ...ecommerceHandlers,
  ...dataPipelineHandlers,
  ...approvalHandlers,
  ...flakyHandlers,
  ...batchImportHandlers,
];

/** workers/templates, found from this file whether it runs from src/ (Bun, Deno) or dist/ (Node). */
export const EXAMPLE_TEMPLATES_DIR = fileURLToPath(new URL('../../templates/', import.meta.url));
