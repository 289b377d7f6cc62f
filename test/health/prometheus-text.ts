/**
 * A strict reader of the Prometheus text format, for tests: every line must be a HELP or TYPE
 * comment or a well-formed sample, every sample must belong to a family declared with TYPE, and
 * a histogram's buckets must be cumulative and end in +Inf equal to its _count. A malformed
 * exposition fails the test that reads it, as it would fail a Prometheus scrape.
 */

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Exposition {
  types: Map<string, string>;
  samples: Sample[];
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(,|$)/y;

export function parseExposition(text: string): Exposition {
  const types = new Map<string, string>();
  const samples: Sample[] = [];
  if (!text.endsWith('\n')) throw new Error('the exposition must end with a newline');
  for (const line of text.split('\n')) {
    if (line === '') continue;
    if (line.startsWith('# HELP ')) continue;
    if (line.startsWith('# TYPE ')) {
      const [name, type] = line.slice(7).split(' ');
      if (name === undefined || type === undefined || !['counter', 'gauge', 'histogram', 'summary', 'untyped'].includes(type)) {
        throw new Error(`bad TYPE line: ${line}`);
      }
      if (types.has(name)) throw new Error(`family ${name} declared twice`);
      types.set(name, type);
      continue;
    }
    const match = SAMPLE.exec(line);
    if (match === null) throw new Error(`not a sample line: ${JSON.stringify(line)}`);
    const [, name = '', , body = '', raw = ''] = match;
    const labels: Record<string, string> = {};
    LABEL.lastIndex = 0;
    while (LABEL.lastIndex < body.length) {
      const label = LABEL.exec(body);
      if (label === null) throw new Error(`bad labels in ${JSON.stringify(line)}`);
      labels[label[1] ?? ''] = (label[2] ?? '').replace(/\\n/g, '\n').replace(/\\"/g, '"').replace(/\\\\/g, '\\');
    }
    const value = raw === '+Inf' ? Infinity : raw === '-Inf' ? -Infinity : Number(raw);
    if (Number.isNaN(value) && raw !== 'NaN') throw new Error(`bad value in ${JSON.stringify(line)}`);
    const family = types.has(name) ? name : name.replace(/_(bucket|sum|count)$/, '');
    if (!types.has(family)) throw new Error(`sample ${name} has no TYPE line`);
    samples.push({ name, labels, value });
  }
  checkHistograms(types, samples);
  return { types, samples };
}

function checkHistograms(types: Map<string, string>, samples: readonly Sample[]): void {
  for (const [family, type] of types) {
    if (type !== 'histogram') continue;
    const series = new Map<string, Sample[]>();
    for (const sample of samples.filter((s) => s.name === `${family}_bucket`)) {
      const { le, ...rest } = sample.labels;
      if (le === undefined) throw new Error(`${family}_bucket without le`);
      const key = JSON.stringify(rest);
      series.set(key, [...(series.get(key) ?? []), sample]);
    }
    for (const [key, buckets] of series) {
      let previous = 0;
      for (const bucket of buckets) {
        if (bucket.value < previous) throw new Error(`${family}${key}: buckets are not cumulative`);
        previous = bucket.value;
      }
      const last = buckets[buckets.length - 1];
      if (last?.labels['le'] !== '+Inf') throw new Error(`${family}${key}: the last bucket is not +Inf`);
      const count = samples.find((s) => s.name === `${family}_count` && JSON.stringify(s.labels) === key);
      if (count?.value !== last.value) throw new Error(`${family}${key}: _count differs from the +Inf bucket`);
    }
  }
}

/** The value of one series; undefined when absent. Labels not named are not compared. */
export function valueOf(exposition: Exposition, name: string, labels: Record<string, string> = {}): number | undefined {
  const found = exposition.samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  if (found.length === 0) return undefined;
  return found.reduce((sum, s) => sum + s.value, 0);
}
