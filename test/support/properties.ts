/**
 * Run counts for property tests of parsers that read untrusted input (tar headers, archive names,
 * spec.dump, policy documents, quantities). Locally a test keeps its own count, so a run stays quick;
 * under CI=true every such property runs at least CI_MIN_RUNS cases.
 */
export const CI_MIN_RUNS = 500;

export function numRuns(local: number): number {
  return process.env['CI'] === 'true' ? Math.max(local, CI_MIN_RUNS) : local;
}
