import type { ArchiveIdentity } from '../archive/types.js';
import type { ArchiveRecord } from '../inventory/types.js';
import type { OwnerLookup, OwnerState, RetentionPolicy } from './types.js';

/** What the PodCheckpoint view says: `absent` where the group is not served or no API server is configured. */
export type PodCheckpointObjectsKind = 'known' | 'absent' | 'unknown';

export interface PodArchiveOrphanInput {
  readonly objects: PodCheckpointObjectsKind;
  /** File names live PodCheckpoint objects reference. */
  readonly referenced: ReadonlySet<string>;
  /** File names whose name and a PodCheckpoint object name different pods (pod-archive-identity.ts). */
  readonly conflicting: ReadonlySet<string>;
  /**
   * The pod view's answer for the pod of a pod-level archive (its identity, container ''): `orphan` when
   * it is gone as a healthy view reports it, `unknown` at any doubt. Undefined without a pod view.
   */
  readonly pods: OwnerLookup | undefined;
}

/** The identity the pod view is asked about for a pod archive: the pod itself. */
export const podOwnerIdentity = (identity: ArchiveIdentity): ArchiveIdentity => ({ namespace: identity.namespace, pod: identity.pod, container: '' });

/**
 * Whether one pod-level archive is an orphan now, the fail-safe reading of KEP-5823 (which leaves
 * garbage collection open). A pod archive is a restore the cluster may offer after its pod is gone, so
 * it is an orphan only when all three hold:
 *
 * 1. the PodCheckpoint objects are known (the group is served and listed, the watch healthy): where the
 *    group is absent or there is no API server, nothing says which archives the cluster still offers;
 * 2. no live object references it, and it is not in a name/object disagreement;
 * 3. its pod is gone as the pod view reports it. This closes the window where the kubelet has written
 *    the archive but not yet the object's `status.checkpointLocation`: the pod checkpointed is alive then.
 *
 * `alive` means kept as owned (referenced, in a disagreement, or its pod exists); `unknown` any doubt.
 * The verdict carries no time: how long it has held is the caller's clock (advancePodOrphanClock).
 */
export function podArchiveVerdict(record: ArchiveRecord, input: PodArchiveOrphanInput): OwnerState {
  if (input.objects === 'unknown') return { state: 'unknown', reason: 'PodCheckpoint objects not known' };
  if (input.objects === 'absent') return { state: 'unknown', reason: 'PodCheckpoint objects not served: the files alone decide, no pod archive is an orphan' };
  if (input.referenced.has(record.fileName)) return { state: 'alive' };
  if (input.conflicting.has(record.fileName)) return { state: 'alive' };
  if (record.identity === undefined) return { state: 'unknown', reason: 'unidentified archive' };
  if (input.pods === undefined) return { state: 'unknown', reason: 'no pod view (no node name)' };
  const pod = input.pods(podOwnerIdentity(record.identity));
  return pod.state === 'orphan' ? { state: 'orphan', sinceMs: 0 } : pod;
}

/** File name → when (monotonic ms) this process first saw the archive orphaned, continuously since. */
export type PodOrphanClock = ReadonlyMap<string, number>;

export interface PodArchiveOwners {
  readonly clock: PodOrphanClock;
  /** Each archive's state for the orphan rule; an orphan's `sinceMs` is on the wall clock given. */
  readonly ownerOf: (record: ArchiveRecord) => OwnerState;
}

/**
 * Advances the per-archive orphan clock by one round and gives each archive's state. An archive keeps
 * its start only while every round sees it orphaned: referenced again, its pod back, any doubt, or not
 * in the round at all drops it, so its grace period starts again from the next round that sees it so.
 * A restart starts every clock again. Measured on a monotonic clock and handed to the planner as a wall
 * time (`nowMs - elapsed`), so a wall-clock step never counts as time orphaned.
 */
export function resolvePodArchiveOwners(
  archives: readonly ArchiveRecord[],
  input: PodArchiveOrphanInput,
  clock: PodOrphanClock,
  times: { readonly nowMs: number; readonly monotonicMs: number },
): PodArchiveOwners {
  const next = new Map<string, number>();
  const states = new Map<string, OwnerState>();
  for (const record of archives) {
    const verdict = podArchiveVerdict(record, input);
    if (verdict.state === 'orphan') {
      const since = clock.get(record.fileName) ?? times.monotonicMs;
      next.set(record.fileName, since);
      // Whole milliseconds, rounded toward less orphan time.
      states.set(record.fileName, { state: 'orphan', sinceMs: times.nowMs - Math.floor(times.monotonicMs - since) });
    } else {
      states.set(record.fileName, verdict);
    }
  }
  return {
    clock: next,
    ownerOf: (record) => states.get(record.fileName) ?? { state: 'unknown', reason: 'archive not among those resolved this round' },
  };
}

/**
 * Whether any policy the pod scope applies could delete a pod archive as an orphan: where none could, the
 * pods are not looked up at all (no GETs for pods of other nodes). Unset in a specific policy is `true`.
 */
export function podOrphansMayGo(policy: RetentionPolicy): boolean {
  return !policy.global.retainOrphan || policy.namespacePolicies.some((p) => p.retainOrphan === false) || policy.podPolicies.some((p) => p.retainOrphan === false);
}
