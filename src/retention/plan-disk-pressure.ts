import type { PlanLedger } from './plan.js';
import type { ContainerState, Entry } from './plan-scopes.js';
import type { DiskPressurePolicy, DiskStats, OwnerState } from './types.js';

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
 */
export function planDiskPressure(
  disk: DiskStats,
  pressure: DiskPressurePolicy,
  entries: readonly Entry[],
  containers: Iterable<ContainerState>,
  ledger: PlanLedger,
  isDeletableOrphan: (owner: OwnerState) => boolean = (owner) => owner.state === 'orphan',
): void {
  const percent = usedPercent(disk);
  if (percent === undefined || percent <= pressure.highThresholdPercent) return;
  const used = disk.sizeBytes - disk.freeBytes;
  const capacity = used + disk.availBytes;

  // Hard links share blocks: one (dev, ino) frees its space once.
  const freedInodes = new Set<string>();
  let freed = 0;
  const free = (entry: Entry): void => {
    const inode = `${entry.record.fingerprint.dev}:${entry.record.fingerprint.ino}`;
    if (freedInodes.has(inode)) return;
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
  const candidates = entries.filter((e) => !e.record.pinned && !e.planned && !protectedEntries.has(e));
  const orphans = candidates.filter((e) => isDeletableOrphan(ledger.ownerOf(e.container)));
  const others = candidates.filter((e) => !isDeletableOrphan(ledger.ownerOf(e.container)));
  const detail = `filesystem is ${percent.toFixed(1)}% used, above the ${pressure.highThresholdPercent}% high mark; oldest archives go until below ${pressure.lowThresholdPercent}% (${pressure.source})`;
  for (const entry of [...orphans, ...others]) {
    if (below()) return;
    ledger.plan(entry, 'disk_pressure', undefined, { level: 'node' }, pressure.source, detail);
    free(entry);
  }
}
