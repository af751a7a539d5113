import { setFlagsFromString } from 'node:v8';

/**
 * V8 sizes its heap for throughput by default: it lets the heap grow to several times what is live
 * before collecting, which for a long-running exporter holding 100,000 archive records is the larger
 * part of its resident memory (docs/benchmarks.md: peak RSS at 100,000 archives about 400 MiB with the
 * default, about 250 MiB with `--optimize-for-size`, for some 10-15 % more CPU at start). On a node,
 * memory is what the exporter competes for, so it asks V8 to favour size. Set before any other module
 * loads (this module is the entry point's first import); the worker threads made later inherit it. An
 * operator's own choice (`--optimize-for-size` or `--no-optimize-for-size` in NODE_OPTIONS or on the
 * node command line) is left as it is.
 */
export const HEAP_FLAG = '--optimize-for-size';

export function operatorChoseHeapFlag(execArgv: readonly string[], nodeOptions: string | undefined): boolean {
  return [...execArgv, ...(nodeOptions ?? '').split(/\s+/)].some((arg) => /^--(no-)?optimize[-_]for[-_]size$/.test(arg));
}

if (!operatorChoseHeapFlag(process.execArgv, process.env['NODE_OPTIONS'])) setFlagsFromString(HEAP_FLAG);
