import type { PolicyDocument } from '../retention/policy-document.js';
import type { OutputFormat } from './output.js';

/** What `inspect` is asked: the archive, the output, and the policy its retention is judged by (container and pod archives alike). */
export interface InspectOptions {
  readonly path: string;
  /** Kept for compatibility: the same as `output: 'json'`. */
  readonly json?: boolean;
  readonly output?: OutputFormat;
  /** The policy retention is judged by: the documents of `--config`, else the defaults. */
  readonly documents?: readonly PolicyDocument[];
  /** Where those documents came from, e.g. `file /etc/checkpoint-exporter/policy.yaml`. */
  readonly policyOrigin?: string;
  readonly futureToleranceMs?: number;
  readonly nowMs?: number;
}
