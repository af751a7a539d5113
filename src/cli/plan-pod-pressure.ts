import { readDiskStats } from '../daemon/disk-stats.js';
import { podPlanInput } from '../daemon/pod-retention.js';
import type { InventorySnapshot } from '../inventory/types.js';
import type { PodCheckpointView } from '../kubernetes/pod-checkpoint-watch.js';
import { planFilesystemDiskPressure } from '../retention/plan-disk-pressure.js';
import type { DiskStats, OwnerLookup, PlannedDeletion, RetentionPlan, RetentionPolicy } from '../retention/types.js';

export interface PodPressureOnceInput {
  /** The container directory's plan, its disk-pressure deletions made without the pod archives. */
  readonly plan: RetentionPlan;
  readonly snapshot: InventorySnapshot;
  /** statfs of the container directory; undefined when it failed. */
  readonly disk: DiskStats | undefined;
  readonly podPlan: RetentionPlan;
  readonly pods: InventorySnapshot;
  readonly podDirectory: string;
  readonly podCheckpoints: ReturnType<PodCheckpointView['state']>;
  readonly policy: RetentionPolicy;
  readonly owners: OwnerLookup;
  readonly nowMs: number;
  readonly futureToleranceMs?: number;
}

const namesOf = (deletions: readonly PlannedDeletion[]): Set<string> => new Set(deletions.map((d) => d.fileName));

/**
 * Disk pressure in a one-shot `plan`, as the serving exporter plans it (retention-runner.ts): one plan
 * per filesystem. With the pod checkpoint directory on the container directory's device, the container
 * plan's disk-pressure deletions are planned again over both directories' archives (the limits'
 * deletions counting as freed); on another device, the pod archives get a plan of their own against
 * their filesystem. Nothing of the pod directory while the PodCheckpoint objects are not known.
 */
export async function withPodDiskPressure(input: PodPressureOnceInput): Promise<{ readonly plan: RetentionPlan; readonly podPlan: RetentionPlan }> {
  const unchanged = { plan: input.plan, podPlan: input.podPlan };
  if (input.policy.diskPressure === undefined) return unchanged;
  const podInput = podPlanInput(input.pods, input.podCheckpoints);
  if (podInput === undefined) return unchanged;
  const podArchives = { archives: podInput.snapshot.archives, referenced: podInput.referenced, alreadyPlanned: namesOf(input.podPlan.deletions) };
  const common = { policy: input.policy, owners: input.owners, nowMs: input.nowMs, ...(input.futureToleranceMs !== undefined ? { futureToleranceMs: input.futureToleranceMs } : {}) };
  const containerDevice = input.snapshot.directoryIdentity?.dev;
  if (containerDevice !== undefined && containerDevice === input.pods.directoryIdentity?.dev) {
    if (input.disk === undefined) return unchanged;
    const limits = input.plan.deletions.filter((d) => d.reason !== 'disk_pressure');
    const pressure = planFilesystemDiskPressure({
      ...common,
      archives: input.snapshot.archives,
      alreadyPlanned: namesOf(limits),
      podArchives,
      disk: input.disk,
      filesystem: 'filesystem of the checkpoint and pod checkpoint directories',
    });
    return {
      plan: { ...input.plan, deletions: [...limits, ...pressure.containers] },
      podPlan: { ...input.podPlan, deletions: [...input.podPlan.deletions, ...pressure.pods] },
    };
  }
  let podDisk: DiskStats;
  try {
    podDisk = await readDiskStats(input.podDirectory);
  } catch {
    return unchanged;
  }
  const pressure = planFilesystemDiskPressure({ ...common, archives: [], alreadyPlanned: new Set(), podArchives, disk: podDisk, filesystem: "pod checkpoint directory's filesystem" });
  return { plan: input.plan, podPlan: { ...input.podPlan, deletions: [...input.podPlan.deletions, ...pressure.pods] } };
}
