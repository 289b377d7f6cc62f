/**
 * Metric families: counters, gauges and histograms with labels. Values recorded by the code that
 * sees the event (a step finished) live here; values owned by someone else (the worker core's
 * counters, a queue's depth) are read at scrape time through a `collect` callback instead of
 * being copied on every change.
 */
import { familyHeader, formatLabels, formatValue, type LabelValues } from './exposition.ts';

/** One family of samples, able to write itself in the text format. */
export interface MetricFamily {
  readonly name: string;
  render(): string[];
}

/** Label values by label name; every declared label must be given. */
export type Labels = Readonly<Record<string, string>>;

/** Samples a collect callback returns: label values (by name) and a value. */
export type CollectedSample = readonly [Labels, number];

abstract class LabelledFamily {
  protected readonly values = new Map<string, { labels: LabelValues; value: number }>();

  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly string[],
  ) {}

  protected key(labels: Labels): { key: string; values: LabelValues } {
    const values = this.labelNames.map((name) => {
      const value = labels[name];
      if (value === undefined) throw new Error(`metric ${this.name}: label ${name} is missing`);
      return value;
    });
    return { key: JSON.stringify(values), values };
  }
}

/** A value that only goes up (events counted since the process started). */
export class Counter extends LabelledFamily implements MetricFamily {
  constructor(name: string, help: string, labelNames: readonly string[] = [], private readonly collect?: () => Iterable<CollectedSample>) {
    super(name, help, labelNames);
  }

  inc(labels: Labels = {}, by = 1): void {
    const { key, values } = this.key(labels);
    const entry = this.values.get(key);
    if (entry === undefined) this.values.set(key, { labels: values, value: by });
    else entry.value += by;
  }

  render(): string[] {
    const lines = familyHeader(this.name, this.help, 'counter');
    const samples = this.collect === undefined ? [...this.values.values()] : collected(this, this.collect());
    for (const { labels, value } of samples) lines.push(`${this.name}${formatLabels(this.labelNames, labels)} ${formatValue(value)}`);
    return lines;
  }
}

/** A value that goes up and down (running steps, queue depth). */
export class Gauge extends LabelledFamily implements MetricFamily {
  constructor(name: string, help: string, labelNames: readonly string[] = [], private readonly collect?: () => Iterable<CollectedSample>) {
    super(name, help, labelNames);
  }

  set(labels: Labels, value: number): void {
    const { key, values } = this.key(labels);
    this.values.set(key, { labels: values, value });
  }

  render(): string[] {
    const lines = familyHeader(this.name, this.help, 'gauge');
    const samples = this.collect === undefined ? [...this.values.values()] : collected(this, this.collect());
    for (const { labels, value } of samples) lines.push(`${this.name}${formatLabels(this.labelNames, labels)} ${formatValue(value)}`);
    return lines;
  }
}

interface HistogramSeries {
  labels: LabelValues;
  /** Observations per bucket (not cumulative; summed when written). */
  counts: number[];
  sum: number;
  count: number;
}

/** Observations counted into buckets (durations, latencies), in seconds. */
export class Histogram extends LabelledFamily implements MetricFamily {
  private readonly series = new Map<string, HistogramSeries>();
  readonly buckets: readonly number[];

  constructor(name: string, help: string, labelNames: readonly string[], buckets: readonly number[]) {
    super(name, help, labelNames);
    this.buckets = [...buckets].sort((a, b) => a - b);
  }

  observe(labels: Labels, value: number): void {
    const { key, values } = this.key(labels);
    let series = this.series.get(key);
    if (series === undefined) {
      series = { labels: values, counts: this.buckets.map(() => 0), sum: 0, count: 0 };
      this.series.set(key, series);
    }
    const index = this.buckets.findIndex((bound) => value <= bound);
    if (index >= 0) series.counts[index] = (series.counts[index] ?? 0) + 1;
    series.sum += value;
    series.count += 1;
  }

  render(): string[] {
    const lines = familyHeader(this.name, this.help, 'histogram');
    for (const series of this.series.values()) {
      let cumulative = 0;
      this.buckets.forEach((bound, index) => {
        cumulative += series.counts[index] ?? 0;
        lines.push(`${this.name}_bucket${formatLabels(this.labelNames, series.labels, ['le', formatValue(bound)])} ${cumulative}`);
      });
      lines.push(`${this.name}_bucket${formatLabels(this.labelNames, series.labels, ['le', '+Inf'])} ${series.count}`);
      lines.push(`${this.name}_sum${formatLabels(this.labelNames, series.labels)} ${formatValue(series.sum)}`);
      lines.push(`${this.name}_count${formatLabels(this.labelNames, series.labels)} ${series.count}`);
    }
    return lines;
  }
}

function collected(family: LabelledFamily, samples: Iterable<CollectedSample>): { labels: LabelValues; value: number }[] {
  return [...samples].map(([labels, value]) => ({ labels: family.labelNames.map((name) => labels[name] ?? ''), value }));
}
