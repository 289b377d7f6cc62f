/**
 * Data pipeline (templates/data_pipeline.yaml): a diamond. by_region and by_product run in
 * parallel on extract_sales' result; build_report joins both.
 */
import { defineHandler, type JsonObject } from '@tasker/sdk';

interface SalesContext extends JsonObject {
  records: Array<{ region: string; product: string; amount: number }>;
}

type Totals = Record<string, number>;

function totalsBy(records: SalesContext['records'], key: 'region' | 'product'): Totals {
  const totals: Totals = {};
  for (const record of records) totals[record[key]] = (totals[record[key]] ?? 0) + record.amount;
  return totals;
}

export const extractSales = defineHandler<SalesContext>('data_pipeline.extract_sales', (ctx) => ({
  records: ctx.context.records,
  count: ctx.context.records.length,
}));

export const byRegion = defineHandler<SalesContext, { extract_sales: SalesContext }>('data_pipeline.by_region', (ctx) =>
  totalsBy(ctx.dependencyResult('extract_sales').records, 'region'),
);

export const byProduct = defineHandler<SalesContext, { extract_sales: SalesContext }>('data_pipeline.by_product', (ctx) =>
  totalsBy(ctx.dependencyResult('extract_sales').records, 'product'),
);

export const buildReport = defineHandler<SalesContext, { by_region: Totals; by_product: Totals }>(
  'data_pipeline.build_report',
  (ctx) => {
    const regions = ctx.dependencyResult('by_region');
    const products = ctx.dependencyResult('by_product');
    const total = Object.values(regions).reduce((a, b) => a + b, 0);
    const top = Object.entries(products).sort((a, b) => b[1] - a[1])[0];
    return { total, regions: Object.keys(regions).length, top_product: top === undefined ? null : top[0] };
  },
);

export const dataPipelineHandlers = [extractSales, byRegion, byProduct, buildReport];
