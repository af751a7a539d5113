import { setFlagsFromString } from 'node:v8';

/**
 * V8 sizes its heaps for throughput by default: it lets the old generation grow to several times what
 * is live before collecting, and the young generation to tens of megabytes, which for a long-running
 * exporter holding 100,000 archive records is the larger part of its resident memory. On a node,
 * memory is what the exporter competes for all the time, while its start is CPU spent once (and a
 * restart from the persisted index reads nothing), so it asks V8 to favour size:
 *
 * - `--optimize-for-size`: the old generation grows by less and is collected sooner;
 * - `--semi-space-growth-factor=1`: the young generation keeps its initial size instead of doubling
 *   under load (with the first alone the start costs more CPU, not less memory).
 *
 * Measured at 100,000 archives on Node.js 24 (docs/benchmarks.md): peak RSS about 240 MiB against
 * about 460 MiB with V8's defaults, for about 1.4× the CPU to readiness. Set before any other module
 * loads (this module is the entry point's first import); the identity worker threads made later
 * inherit them. An operator who names either flag (in NODE_OPTIONS or on the node command line, either
 * way) has chosen: neither is set then.
 */
export const HEAP_FLAGS = ['--optimize-for-size', '--semi-space-growth-factor=1'] as const;

export function operatorChoseHeapFlag(execArgv: readonly string[], nodeOptions: string | undefined): boolean {
  return [...execArgv, ...(nodeOptions ?? '').split(/\s+/)].some((arg) => /^--(no-)?(optimize[-_]for[-_]size|semi[-_]space[-_]growth[-_]factor(=.*)?)$/.test(arg));
}

if (!operatorChoseHeapFlag(process.execArgv, process.env['NODE_OPTIONS'])) for (const flag of HEAP_FLAGS) setFlagsFromString(flag);
