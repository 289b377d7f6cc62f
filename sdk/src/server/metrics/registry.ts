/**
 * A small Prometheus registry: families are declared once, recorded into as things happen, and
 * written out on each scrape. Written here rather than taken from prom-client because it must
 * run unchanged on Node, Bun and Deno and needs only counters, gauges and histograms.
 */
import { Counter, Gauge, Histogram, type CollectedSample, type MetricFamily } from './families.ts';

/** Upper bounds, in seconds, for step durations: 5 ms to 5 minutes. */
export const DURATION_BUCKETS: readonly number[] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];
/** Upper bounds, in seconds, for claim latency: 1 ms to 10 s. */
export const LATENCY_BUCKETS: readonly number[] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export class MetricsRegistry {
  private readonly families: MetricFamily[] = [];
  private readonly refreshers: (() => Promise<void>)[] = [];

  counter(name: string, help: string, labelNames: readonly string[] = []): Counter {
    return this.add(new Counter(name, help, labelNames));
  }

  /** A counter whose values someone else keeps (the worker core's), read at each scrape. */
  collectedCounter(name: string, help: string, labelNames: readonly string[], collect: () => Iterable<CollectedSample>): Counter {
    return this.add(new Counter(name, help, labelNames, collect));
  }

  gauge(name: string, help: string, labelNames: readonly string[] = []): Gauge {
    return this.add(new Gauge(name, help, labelNames));
  }

  /** A gauge read at each scrape. */
  collectedGauge(name: string, help: string, labelNames: readonly string[], collect: () => Iterable<CollectedSample>): Gauge {
    return this.add(new Gauge(name, help, labelNames, collect));
  }

  histogram(name: string, help: string, labelNames: readonly string[], buckets: readonly number[]): Histogram {
    return this.add(new Histogram(name, help, labelNames, buckets));
  }

  /**
   * Runs before every scrape, for values that need a query (queue depths). A refresher that
   * fails must record that itself (a `_up` gauge); the scrape goes on with what it has.
   */
  onScrape(refresh: () => Promise<void>): void {
    this.refreshers.push(refresh);
  }

  /** Every family in the text format, refreshed first. */
  async render(): Promise<string> {
    await Promise.all(this.refreshers.map((refresh) => refresh().catch(() => {})));
    return `${this.families.flatMap((family) => family.render()).join('\n')}\n`;
  }

  private add<F extends MetricFamily>(family: F): F {
    if (this.families.some((known) => known.name === family.name)) throw new Error(`metric ${family.name} is declared twice`);
    this.families.push(family);
    return family;
  }
}
