import yaml from 'js-yaml';

import type { OutputFormat } from './output-formats.js';

export { OUTPUT_FORMATS, type OutputFormat } from './output-formats.js';
/** What a command prints: the default table or one of the `-o` formats. */
export type Rendering = 'table' | OutputFormat;

/** `--json` is kept as `-o json`; given with another `-o`, `--json` wins, as it always did. */
export function renderingOf(opts: { readonly json?: boolean; readonly output?: OutputFormat }): Rendering {
  if (opts.json === true) return 'json';
  return opts.output ?? 'table';
}

/** JSON (two-space indented) or YAML of the same data, each ending with a newline. */
export function renderData(format: 'json' | 'yaml', data: unknown): string {
  if (format === 'json') return `${JSON.stringify(data, null, 2)}\n`;
  // Plain data only (strings, numbers, booleans, null, arrays, objects): what JSON.parse would give.
  return yaml.dump(JSON.parse(JSON.stringify(data)) as unknown, { noRefs: true, lineWidth: -1, sortKeys: false });
}

export const isStructured = (rendering: Rendering): rendering is 'json' | 'yaml' => rendering === 'json' || rendering === 'yaml';
