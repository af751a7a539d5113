/** The Prometheus text format (0.0.4), for families rendered ahead of the scrape rather than by prom-client. */

export function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

export function formatValue(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  return String(value);
}

/**
 * `name{a="x",b="y"} value\n` with labels in the order given. Built with Array#join, which yields one
 * flat string: cached lines built by `+=` would each stay a tree of string fragments in memory.
 */
export function sampleLine(name: string, labels: ReadonlyArray<readonly [string, string]>, value: number): string {
  const parts: string[] = [name];
  labels.forEach(([label, labelValue], i) => {
    parts.push(i === 0 ? '{' : ',', label, '="', escapeLabelValue(labelValue), '"');
  });
  parts.push(labels.length === 0 ? ' ' : '} ', formatValue(value), '\n');
  return parts.join('');
}

export function familyHeader(name: string, help: string, type: 'gauge' | 'counter'): string {
  return `# HELP ${name} ${help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}\n# TYPE ${name} ${type}\n`;
}
