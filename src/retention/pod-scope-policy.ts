import { planRetention, type PlanInput } from './plan.js';
import type { ArchiveRecord } from '../inventory/types.js';
import type { OwnerLookup, OwnerState, RetentionPlan, RetentionPolicy } from './types.js';

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
 * - Disk pressure is not planned here: the node-wide pass (plan-disk-pressure.ts,
 *   planFilesystemDiskPressure) takes pod archives with the container archives of their filesystem in
 *   one plan, counting what this plan deletes as freed; a second plan against the same filesystem
 *   would free the space twice.
 * - Orphans go only by each archive's own state (`orphans` below, pod-archive-orphans.ts).
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
 * The owner of a pod's archives as a group: unknown. A PodCheckpoint object references one archive, not
 * its pod, so whether a pod archive is an orphan is decided per archive (`orphans` below,
 * pod-archive-orphans.ts); without that, no pod archive is an orphan.
 */
export const POD_ARCHIVE_OWNERS: OwnerLookup = () => ({ state: 'unknown', reason: 'a pod-level archive is an orphan only by its own state (pod-archive-orphans.ts)' });

export interface PodPlanInput extends Omit<PlanInput, 'policy' | 'owners' | 'disk' | 'archiveOwners'> {
  readonly policy: RetentionPolicy;
  /**
   * File names of the archives live PodCheckpoint objects reference. Each is a restore the API still
   * offers: kept as a pin is (counted, never planned) unless the global policy sets
   * `deleteReferencedPodCheckpoints: true`, which lets the pod limits delete it like any other pod
   * archive. A pinned archive is kept either way.
   */
  readonly referenced?: ReadonlySet<string>;
  /**
   * Each archive's state for the orphan rule (resolvePodArchiveOwners): an orphan past
   * `orphanGracePeriod` goes where the policy governing its pod sets `retainOrphan: false`. Absent: no
   * pod archive is an orphan.
   */
  readonly orphans?: (record: ArchiveRecord) => OwnerState;
}

/** The plan of pod-level archives, as the exporter makes it and `plan` shows it. */
export function planPodArchives(input: PodPlanInput): RetentionPlan {
  const { referenced, ...rest } = input;
  const keepReferenced = referenced !== undefined && referenced.size > 0 && !input.policy.global.deleteReferencedPodCheckpoints;
  const snapshot = keepReferenced
    ? { ...input.snapshot, archives: input.snapshot.archives.map((record) => (referenced.has(record.fileName) && !record.pinned ? { ...record, pinned: true } : record)) }
    : input.snapshot;
  const { orphans, ...planned } = rest;
  const plan = planRetention({ ...planned, snapshot, policy: podScopePolicy(input.policy), owners: POD_ARCHIVE_OWNERS, ...(orphans !== undefined ? { archiveOwners: orphans } : {}), disk: undefined });
  if (!plan.deletions.some((d) => d.reason === 'orphan')) return plan;
  return { ...plan, deletions: plan.deletions.map((d) => (d.reason === 'orphan' ? { ...d, detail: `${d.detail}; no PodCheckpoint object references ${d.fileName}` } : d)) };
}
