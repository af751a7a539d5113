import { EventEmitter } from 'node:events';
import type { PolicyEventTarget } from '../kubernetes/events.js';

/**
 * How the sources built before the retention runner (the policy file, the cluster policies, the
 * inventory's resync) reach it and the Kubernetes client once both exist.
 * 'full': plan everything again (a policy changed, a resync finished).
 * 'invalidObject': a policy object was refused, for a Warning Event once the API client exists.
 */
export type RetentionRequests = EventEmitter<{ full: []; invalidObject: [object: PolicyEventTarget, problems: readonly string[]] }>;

export function createRetentionRequests(): RetentionRequests {
  return new EventEmitter<{ full: []; invalidObject: [object: PolicyEventTarget, problems: readonly string[]] }>();
}
