import { DEFAULT_FUTURE_TOLERANCE_MS } from '../defaults.js';
import type { ArchiveRecord, InventorySnapshot } from '../inventory/types.js';
import { formatDuration } from './duration.js';
import { describeEffectiveLimits } from './effective-limits.js';
import { COUNT_LIMIT, enforceGroupLimit, TOTAL_SIZE_LIMIT, type ReportUnsatisfiable } from './group-limit.js';
import { planDiskPressure } from './plan-disk-pressure.js';
import { createScopeResolver, labelKey, labelsOf, orderGroups } from './plan-scopes.js';
import { collectEntries, createPlanLedger, orphanPastGrace, type Entry, type PlanLedger } from './plan-state.js';
import { formatBytes } from './quantity.js';
import type { DiskStats, OwnerLookup, OwnerState, RetentionPlan, RetentionPolicy, UnsatisfiableLimit } from './types.js';

export interface PlanInput {
  /** The archives to plan (a whole snapshot, or every archive of some namespaces) and the directory they are in. */
  readonly snapshot: Pick<InventorySnapshot, 'archives' | 'directoryIdentity'> & Partial<InventorySnapshot>;
  readonly policy: RetentionPolicy;
  readonly owners: OwnerLookup;
  /**
   * For the orphan rule, an archive's own owner state in place of its container's: pod-level archives,
   * where a PodCheckpoint object references one archive, not its pod (pod-archive-orphans.ts).
   */
  readonly archiveOwners?: (record: ArchiveRecord) => OwnerState;
  readonly disk: DiskStats | undefined;
  readonly nowMs: number;
  /** How far ahead of now a name's time may lie before the archive is future-dated (default 10 minutes). */
  readonly futureToleranceMs?: number;
}

/**
 * Decides which archives go, on one consistent snapshot, without touching the filesystem.
 *
 * Per archive the most specific policy wins (container → pod → namespace → global), scopes matched
 * exactly. Per-archive limits go first (`size`, then `age`, then `orphan`), then the count and total
 * size limits of each group, narrowest level first and oldest first, so a broader limit only sees
 * what narrower ones kept and nothing is deleted twice or needlessly. Disk pressure comes last and
 * only takes what is still needed. Pinned archives count but are never planned. Unidentified archives
 * are neither counted nor planned, since nothing says which scope they belong to; disk pressure
 * skips them too, because deleting a file we cannot attribute would bypass keepNewestPerContainer.
 * Future-dated archives are set aside (see collectEntries).
 */
export function planRetention(input: PlanInput): RetentionPlan {
  const { snapshot, policy, nowMs } = input;
  const unsatisfiable = new Map<string, UnsatisfiableLimit>();
  const ledger = createPlanLedger(input.owners);
  const reportUnsatisfiable: ReportUnsatisfiable = (scope, limit, value, policySource, detail) => {
    const labels = labelsOf(scope, limit);
    const key = labelKey(labels);
    if (!unsatisfiable.has(key)) unsatisfiable.set(key, { ...labels, value, policySource, detail });
  };

  const futureLimitMs = nowMs + (input.futureToleranceMs ?? DEFAULT_FUTURE_TOLERANCE_MS);
  const { entries, containers, futureDated } = collectEntries(snapshot.archives, createScopeResolver(policy), futureLimitMs);
  const pastGrace = orphanPastGrace(nowMs, policy.orphanGracePeriodSeconds * 1000);

  for (const entry of entries) planPerArchiveLimits(entry, input, ledger, reportUnsatisfiable, pastGrace);
  for (const group of orderGroups(containers)) {
    enforceGroupLimit(group, COUNT_LIMIT, ledger, reportUnsatisfiable);
    enforceGroupLimit(group, TOTAL_SIZE_LIMIT, ledger, reportUnsatisfiable);
  }
  // Disk pressure takes orphans first, but only those past their grace period, like every other rule.
  if (policy.diskPressure && input.disk) planDiskPressure(input.disk, policy.diskPressure, entries, containers, ledger, pastGrace);

  const { directoryIdentity } = snapshot;
  return {
    deletions: ledger.deletions,
    // In file-name order, whatever order the archives came in.
    futureDated: futureDated.sort(),
    unsatisfiable: [...unsatisfiable.values()],
    effectiveLimits: describeEffectiveLimits(containers, policy),
    ...(directoryIdentity ? { directoryIdentity: { dev: directoryIdentity.dev, ino: directoryIdentity.ino } } : {}),
  };
}

/** The limits of one archive alone, first that applies: `size`, then `age`, then `orphan`. A pinned archive over one is reported, not planned. */
function planPerArchiveLimits(entry: Entry, input: PlanInput, ledger: PlanLedger, reportUnsatisfiable: ReportUnsatisfiable, pastGrace: (owner: OwnerState) => boolean): void {
  const { record } = entry;
  const { governor } = entry.container;
  const { nowMs, policy } = input;
  const size = record.fingerprint.size;
  if (governor.maxCheckpointSize > 0 && size > governor.maxCheckpointSize) {
    const text = `${record.fileName} is ${formatBytes(size)}, over the ${formatBytes(governor.maxCheckpointSize)} per-archive limit of ${governor.where} (${governor.sizeSource})`;
    if (record.pinned) reportUnsatisfiable(governor.scope, 'size', governor.maxCheckpointSize, governor.sizeSource, `pinned ${text}`);
    else ledger.plan(entry, 'size', governor.maxCheckpointSize, governor.scope, governor.sizeSource, text);
    return;
  }
  const ageSeconds = Math.floor((nowMs - record.name.timestampMs) / 1000);
  if (governor.maxCheckpointAgeSeconds > 0 && ageSeconds > governor.maxCheckpointAgeSeconds) {
    const limit = governor.maxCheckpointAgeSeconds;
    const text = `${record.fileName} is ${formatDuration(ageSeconds)} old, over the ${formatDuration(limit)} age limit of ${governor.where} (${governor.ageSource})`;
    if (record.pinned) reportUnsatisfiable(governor.scope, 'age', limit, governor.ageSource, `pinned ${text}`);
    else ledger.plan(entry, 'age', limit, governor.scope, governor.ageSource, text);
    return;
  }
  if (!governor.retainOrphan && !record.pinned) {
    const owner = input.archiveOwners?.(record) ?? ledger.ownerOf(entry.container);
    if (owner.state === 'orphan' && pastGrace(owner)) {
      const gone = formatDuration(Math.max(0, Math.floor((nowMs - owner.sinceMs) / 1000)));
      const text = `pod ${entry.identity.namespace}/${entry.identity.pod} has been gone for ${gone} (grace ${formatDuration(policy.orphanGracePeriodSeconds)}) and retainOrphan is false (${governor.orphanSource})`;
      ledger.plan(entry, 'orphan', undefined, governor.scope, governor.orphanSource, text);
    }
  }
}
