/**
 * The metrics registry writes valid Prometheus text: escaped label values, cumulative histogram
 * buckets ending in +Inf, collected values read at scrape time, refreshers run before each
 * scrape, and no family declared twice.
 */
import { describe, expect, it } from 'vitest';
import { MetricsRegistry } from '../../sdk/src/server/metrics/registry.ts';
import { parseExposition, valueOf } from './prometheus-text.ts';

describe('MetricsRegistry', () => {
  it('writes counters, gauges and histograms that parse back to what was recorded', async () => {
    const registry = new MetricsRegistry();
    const counter = registry.counter('t_events_total', 'Events.', ['kind']);
    counter.inc({ kind: 'a' });
    counter.inc({ kind: 'a' }, 2);
    counter.inc({ kind: 'quote " back\\slash\nnewline' });
    registry.gauge('t_level', 'Level.').set({}, 1.5);
    const histogram = registry.histogram('t_seconds', 'Durations.', ['op'], [0.1, 1]);
    for (const value of [0.05, 0.5, 0.7, 3]) histogram.observe({ op: 'x' }, value);
    let reads = 0;
    registry.collectedCounter('t_collected_total', 'Read at scrape time.', [], () => [[{}, (reads += 1) * 10]]);
    const text = await registry.render();
    expect(text).toContain('# TYPE t_seconds histogram');
    expect(text).toContain('t_events_total{kind="quote \\" back\\\\slash\\nnewline"} 1');
    const metrics = parseExposition(text);
    expect(valueOf(metrics, 't_events_total', { kind: 'a' })).toBe(3);
    expect(valueOf(metrics, 't_events_total', { kind: 'quote " back\\slash\nnewline' })).toBe(1);
    expect(valueOf(metrics, 't_level')).toBe(1.5);
    expect(valueOf(metrics, 't_seconds_bucket', { op: 'x', le: '0.1' })).toBe(1);
    expect(valueOf(metrics, 't_seconds_bucket', { op: 'x', le: '1' })).toBe(3);
    expect(valueOf(metrics, 't_seconds_bucket', { op: 'x', le: '+Inf' })).toBe(4);
    expect(valueOf(metrics, 't_seconds_count', { op: 'x' })).toBe(4);
    expect(valueOf(metrics, 't_seconds_sum', { op: 'x' })).toBeCloseTo(4.25);
    expect(valueOf(metrics, 't_collected_total')).toBe(10);
    expect(valueOf(parseExposition(await registry.render()), 't_collected_total')).toBe(20);
  });

  it('runs refreshers before each scrape, and a failing one does not fail the scrape', async () => {
    const registry = new MetricsRegistry();
    const gauge = registry.gauge('t_depth', 'Depth.');
    let depth = 0;
    registry.onScrape(async () => gauge.set({}, (depth += 1)));
    registry.onScrape(async () => {
      throw new Error('database down');
    });
    expect(valueOf(parseExposition(await registry.render()), 't_depth')).toBe(1);
    expect(valueOf(parseExposition(await registry.render()), 't_depth')).toBe(2);
  });

  it('refuses a family declared twice, and a sample missing a label', () => {
    const registry = new MetricsRegistry();
    const counter = registry.counter('t_total', 'x', ['a']);
    expect(() => registry.gauge('t_total', 'y')).toThrow('metric t_total is declared twice');
    expect(() => counter.inc({})).toThrow('metric t_total: label a is missing');
  });
});
