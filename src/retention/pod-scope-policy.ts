import { planRetention, type PlanInput } from './plan.js';
import type { OwnerLookup, RetentionPlan, RetentionPolicy } from './types.js';

/**
 * The policy pod-level archives (KEP-5823) are planned with: the pod scope of the policy in force.
 * The planner sees a pod archive as a record whose container is empty, so a pod is its narrowest group.
 *
 * - `maxCheckpointsPerPod`, `maxTotalSizePerPod` and `podPolicies` apply as written.
 * - Per-archive limits (`maxCheckpointSize`, `maxCheckpointAge`) apply from the policy that governs the
 *   pod: its pod policy, else its namespace policy, else the global one.
 * - Container and namespace counts and totals do not: a pod archive has no container, and a namespace
 *   limit counted over the pod archives alone would be a second allowance beside the container
 *   archives'. The KEP leaves this open; keeping is the fail-safe reading.
 * - Disk pressure does not take pod archives: the container directory's run frees space by its own
 *   plan, and a second plan against the same filesystem would free it twice.
 */
export function podScopePolicy(policy: RetentionPolicy): RetentionPolicy {
  const withoutGroupLimits = <T extends { readonly maxCheckpoints?: number; readonly maxTotalSize?: number }>(p: T): T => ({ ...p, maxCheckpoints: 0, maxTotalSize: 0 });
  return {
    ...policy,
    global: { ...policy.global, maxCheckpointsPerContainer: 0, maxTotalSizePerContainer: 0, maxCheckpointsPerNamespace: 0, maxTotalSizePerNamespace: 0 },
    namespacePolicies: policy.namespacePolicies.map(withoutGroupLimits),
    containerPolicies: [],
    diskPressure: undefined,
  };
}

/**
 * A pod archive is a restore the cluster may still offer after its pod is gone (a PodCheckpoint object
 * can outlive the pod), and this exporter does not read PodCheckpoint objects: no pod archive is ever
 * taken as orphaned.
 */
export const POD_ARCHIVE_OWNERS: OwnerLookup = () => ({ state: 'unknown', reason: 'pod-level archives are never orphaned: a PodCheckpoint object may still offer them for restore' });

export interface PodPlanInput extends Omit<PlanInput, 'policy' | 'owners' | 'disk'> {
  readonly policy: RetentionPolicy;
  /**
   * File names of the archives live PodCheckpoint objects reference. Each is a restore the API still
   * offers: kept as a pin is (counted, never planned) unless the global policy sets
   * `deleteReferencedPodCheckpoints: true`, which lets the pod limits delete it like any other pod
   * archive. A pinned archive is kept either way.
   */
  readonly referenced?: ReadonlySet<string>;
}

/** The plan of pod-level archives, as the exporter makes it and `plan` shows it. */
export function planPodArchives(input: PodPlanInput): RetentionPlan {
  const { referenced, ...rest } = input;
  const keepReferenced = referenced !== undefined && referenced.size > 0 && !input.policy.global.deleteReferencedPodCheckpoints;
  const snapshot = keepReferenced
    ? { ...input.snapshot, archives: input.snapshot.archives.map((record) => (referenced.has(record.fileName) && !record.pinned ? { ...record, pinned: true } : record)) }
    : input.snapshot;
  return planRetention({ ...rest, snapshot, policy: podScopePolicy(input.policy), owners: POD_ARCHIVE_OWNERS, disk: undefined });
}
