import { compareArchiveAge } from '../archive/age-order.js';
import { DEFAULT_FUTURE_TOLERANCE_MS } from '../defaults.js';
import type { ArchiveRecord } from '../inventory/types.js';
import { createScopeResolver } from './plan-scopes.js';
import { collectEntries, createPlanLedger, orphanPastGrace, type ContainerState, type Entry, type PlanLedger } from './plan-state.js';
import { formatBytes } from './quantity.js';
import type { DiskPressurePolicy, DiskStats, OwnerLookup, OwnerState, PlannedDeletion, RetentionPolicy } from './types.js';

/** Used percentage as df computes it: root-reserved blocks count as neither used nor available. */
export function usedPercent(disk: DiskStats): number | undefined {
  const used = disk.sizeBytes - disk.freeBytes;
  const capacity = used + disk.availBytes;
  return capacity > 0 ? (used / capacity) * 100 : undefined;
}

/**
 * Above the high mark, plans the oldest unpinned identified archives node-wide (orphans past
 * their grace period first) until projected usage is below the low mark, counting space that deletions already planned
 * will free. The newest `keepNewestPerContainer` survivors of every container (pinned ones included,
 * they are kept anyway) are never taken, so each container keeps a restorable checkpoint.
 *
 * Only bytes an unlink frees count. An inode's blocks are freed when its last link goes, so an archive
 * whose inode has links outside the archives planned on (a backup made with `cp -al` or
 * `rsync --link-dest`, a link we cannot attribute, or a link count unknown) frees nothing: pressure
 * never takes it, since deleting it would leave the disk as full and make every later run dig deeper
 * into the containers. Its count, age and size limits apply as before. Archives linked only to each
 * other go together, or not at all.
 */
export function planDiskPressure(
  disk: DiskStats,
  pressure: DiskPressurePolicy,
  entries: readonly Entry[],
  containers: Iterable<ContainerState>,
  ledger: PlanLedger,
  isDeletableOrphan: (owner: OwnerState) => boolean = (owner) => owner.state === 'orphan',
  filesystem = 'filesystem',
): void {
  const percent = usedPercent(disk);
  if (percent === undefined || percent <= pressure.highThresholdPercent) return;
  const used = disk.sizeBytes - disk.freeBytes;
  const capacity = used + disk.availBytes;

  // The archives sharing each inode; their blocks are freed once, when all of its links are deleted.
  const links = new Map<string, Entry[]>();
  for (const entry of entries) {
    const inode = inodeOf(entry);
    const sharing = links.get(inode);
    if (sharing === undefined) links.set(inode, [entry]);
    else sharing.push(entry);
  }
  /** Every link of the inode is one of these archives, as each of their link counts says. */
  const allLinksKnown = (sharing: readonly Entry[]): boolean => sharing.every((e) => e.record.fingerprint.nlink === sharing.length);
  const freedInodes = new Set<string>();
  let freed = 0;
  const free = (entry: Entry): void => {
    const inode = inodeOf(entry);
    const sharing = links.get(inode) ?? [entry];
    if (freedInodes.has(inode) || !allLinksKnown(sharing) || !sharing.every((e) => e.planned)) return;
    freedInodes.add(inode);
    freed += entry.record.fingerprint.size;
  };
  for (const entry of entries) if (entry.planned) free(entry);
  const below = (): boolean => ((used - freed) / capacity) * 100 < pressure.lowThresholdPercent;
  if (below()) return;

  const protectedEntries = new Set<Entry>();
  for (const container of containers) {
    const survivors = container.entries.filter((e) => !e.planned);
    for (const entry of survivors.slice(Math.max(0, survivors.length - pressure.keepNewestPerContainer))) protectedEntries.add(entry);
  }
  const takeable = (e: Entry): boolean => !e.record.pinned && !protectedEntries.has(e);
  const candidates = entries.filter((e) => !e.planned && takeable(e));
  // Deleting these frees nothing: linked outside the archives planned on, or to one that must stay.
  const freeNothing = candidates.filter((e) => {
    const sharing = links.get(inodeOf(e)) ?? [e];
    return !allLinksKnown(sharing) || !sharing.every((s) => s.planned || takeable(s));
  });
  const linked = new Set(freeNothing);
  const orphans = candidates.filter((e) => !linked.has(e) && isDeletableOrphan(ledger.ownerOf(e.container)));
  const others = candidates.filter((e) => !linked.has(e) && !isDeletableOrphan(ledger.ownerOf(e.container)));
  const linkedBytes = freeNothing.reduce((sum, e) => sum + e.record.fingerprint.size, 0);
  const skipped =
    freeNothing.length === 0
      ? ''
      : `; not taken: ${freeNothing.length} hard-linked archive${freeNothing.length === 1 ? '' : 's'} (${formatBytes(linkedBytes)}) whose deletion frees nothing, another link of each staying`;
  const detail = `${filesystem} is ${percent.toFixed(1)}% used, above the ${pressure.highThresholdPercent}% high mark; oldest archives go until below ${pressure.lowThresholdPercent}% (${pressure.source})${skipped}`;
  for (const entry of [...orphans, ...others]) {
    if (below()) return;
    if (entry.planned) continue;
    // Its other links (archives linked only to each other) go with it: alone, it would free nothing.
    for (const link of links.get(inodeOf(entry)) ?? [entry]) {
      if (!link.planned) ledger.plan(link, 'disk_pressure', undefined, { level: 'node' }, pressure.source, detail);
    }
    free(entry);
  }
}

const inodeOf = (entry: Entry): string => `${entry.record.fingerprint.dev}:${entry.record.fingerprint.ino}`;

export interface NodeDiskPressureInput {
  /** The archives disk pressure may look at: every archive of the node but those the run just planned. */
  readonly archives: Iterable<ArchiveRecord>;
  /** File names the plan in force deletes by a limit: they count as freed, and not as survivors of their container. */
  readonly alreadyPlanned: ReadonlySet<string>;
  readonly disk: DiskStats;
  readonly policy: RetentionPolicy;
  readonly owners: OwnerLookup;
  readonly nowMs: number;
  readonly futureToleranceMs?: number;
}

/**
 * The pod checkpoint directory's archives (KEP-5823) as disk pressure may see them: only while the
 * PodCheckpoint objects are known (or the API serves none), since nothing of that directory is deleted
 * otherwise, and without the archives whose name and object name different pods (podPlanInput).
 */
export interface PodPressureArchives {
  readonly archives: Iterable<ArchiveRecord>;
  /** File names the pod plan in force deletes by a limit: they count as freed, and not as survivors of their pod. */
  readonly alreadyPlanned: ReadonlySet<string>;
  /** File names live PodCheckpoint objects reference: kept as pins are, unless the global policy sets deleteReferencedPodCheckpoints. */
  readonly referenced: ReadonlySet<string>;
}

export interface FilesystemDiskPressureInput extends Omit<NodeDiskPressureInput, 'archives' | 'alreadyPlanned'> {
  /** The container directory's archives on this filesystem (none when it is on another one or absent), as for planNodeDiskPressure. */
  readonly archives: Iterable<ArchiveRecord>;
  readonly alreadyPlanned: ReadonlySet<string>;
  /** The pod checkpoint directory's archives when that directory is on this filesystem. */
  readonly podArchives?: PodPressureArchives;
  /** How the deletions' detail names the filesystem. */
  readonly filesystem?: string;
}

/** One filesystem's disk-pressure deletions, by the directory whose executor carries them out. */
export interface FilesystemPressurePlan {
  readonly containers: PlannedDeletion[];
  readonly pods: PlannedDeletion[];
}

/** Pod archives compete by age alone: a PodCheckpoint object may offer a restore long after its pod is gone, so none goes first as an orphan. */
const POD_OWNER: OwnerState = { state: 'unknown', reason: 'a pod-level archive is never taken first as an orphan' };

/**
 * The node-wide disk-pressure pass alone, for a runner that plans limits namespace by namespace and
 * keeps the plan in force: the limits were planned already, so only pressure is planned here, on the
 * same entries planRetention would make (identified, not future-dated, oldest first).
 */
export function planNodeDiskPressure(input: NodeDiskPressureInput): PlannedDeletion[] {
  return planFilesystemDiskPressure(input).containers;
}

/**
 * One disk-pressure plan for one filesystem, so no space is counted as freed twice: the container
 * archives and, when the pod checkpoint directory is on the same filesystem, the pod archives, in one
 * age order. Container orphans past their grace period go first, as ever; pod archives are never
 * taken first as orphans (their orphans go by the pod plan, pod-archive-orphans.ts) and compete by
 * age. The newest `keepNewestPerContainer` survivors stay per container for container archives and
 * per pod for pod archives. Pinned, unidentified and future-dated archives of either
 * directory are never taken, nor a pod archive a live PodCheckpoint object references (unless
 * `deleteReferencedPodCheckpoints`). The hard-link accounting spans both directories: an inode linked
 * from a container archive and a pod archive is freed only when both go, so they go together or not
 * at all. The deletions come back apart, each for the executor of its own directory.
 */
export function planFilesystemDiskPressure(input: FilesystemDiskPressureInput): FilesystemPressurePlan {
  const pressure = input.policy.diskPressure;
  if (pressure === undefined) return { containers: [], pods: [] };
  const futureLimitMs = input.nowMs + (input.futureToleranceMs ?? DEFAULT_FUTURE_TOLERANCE_MS);
  const containerSide = collectEntries(input.archives, createScopeResolver(input.policy), futureLimitMs);
  for (const entry of containerSide.entries) if (input.alreadyPlanned.has(entry.record.fileName)) entry.planned = true;
  const containerLedger = createPlanLedger(input.owners);
  const pastGrace = orphanPastGrace(input.nowMs, input.policy.orphanGracePeriodSeconds * 1000);
  const pods = input.podArchives;
  if (pods === undefined) {
    planDiskPressure(input.disk, pressure, containerSide.entries, containerSide.containers, containerLedger, pastGrace, input.filesystem);
    return { containers: containerLedger.deletions, pods: [] };
  }
  // A referenced archive is a restore the API still offers: to the planner it is a pin (kept, and one
  // of its pod's newest survivors when it is among them).
  const keepReferenced = !input.policy.global.deleteReferencedPodCheckpoints;
  const podRecords = [...pods.archives].map((record) => (keepReferenced && !record.pinned && pods.referenced.has(record.fileName) ? { ...record, pinned: true } : record));
  // A resolver of its own: each pod archive's state is its pod's, never a container's.
  const podSide = collectEntries(podRecords, createScopeResolver(input.policy), futureLimitMs);
  for (const entry of podSide.entries) if (pods.alreadyPlanned.has(entry.record.fileName)) entry.planned = true;
  const podLedger = createPlanLedger(() => POD_OWNER);
  const podStates = new Set<ContainerState>(podSide.containers);
  const ledgerOf = (container: ContainerState): PlanLedger => (podStates.has(container) ? podLedger : containerLedger);
  const ledger: PlanLedger = {
    get deletions() {
      return [...containerLedger.deletions, ...podLedger.deletions];
    },
    plan(entry, ...rest) {
      ledgerOf(entry.container).plan(entry, ...rest);
    },
    ownerOf: (container) => ledgerOf(container).ownerOf(container),
  };
  const entries = [...containerSide.entries, ...podSide.entries].sort((a, b) => compareArchiveAge(a.record, b.record));
  planDiskPressure(input.disk, pressure, entries, [...containerSide.containers, ...podSide.containers], ledger, pastGrace, input.filesystem);
  return { containers: containerLedger.deletions, pods: podLedger.deletions };
}
