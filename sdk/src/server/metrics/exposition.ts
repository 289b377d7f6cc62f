/**
 * The Prometheus text exposition format (version 0.0.4), the small part of it a registry writes:
 * HELP and TYPE lines, samples with labels, and the escaping each needs. Kept apart from the
 * registry so the format's rules live in one place.
 */

/** Content-Type of a /metrics response. */
export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/** Label names and their values, in the order the family declared them. */
export type LabelValues = readonly string[];

/** A label value with backslash, double quote and newline escaped, as the format requires. */
export function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/** HELP text escapes only backslash and newline. */
export function escapeHelp(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

/** A sample value: integers as they are, the special values by their Prometheus names. */
export function formatValue(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Number.POSITIVE_INFINITY) return '+Inf';
  if (value === Number.NEGATIVE_INFINITY) return '-Inf';
  return String(value);
}

/** `{a="x",b="y"}`, or nothing when there are no labels. */
export function formatLabels(names: readonly string[], values: LabelValues, extra?: readonly [string, string]): string {
  const pairs = names.map((name, index) => `${name}="${escapeLabelValue(values[index] ?? '')}"`);
  if (extra !== undefined) pairs.push(`${extra[0]}="${escapeLabelValue(extra[1])}"`);
  return pairs.length === 0 ? '' : `{${pairs.join(',')}}`;
}

/** The two comment lines that open a family. */
export function familyHeader(name: string, help: string, type: 'counter' | 'gauge' | 'histogram'): string[] {
  return [`# HELP ${name} ${escapeHelp(help)}`, `# TYPE ${name} ${type}`];
}
