import type { InventorySnapshot } from '../inventory/types.js';

export interface ContainerSummary {
  readonly namespace: string;
  readonly pod: string;
  readonly container: string;
  readonly archives: number;
  readonly bytes: number;
  readonly pinned: number;
  readonly oldestTimestampMs: number;
  readonly newestTimestampMs: number;
}

export interface InventorySummary {
  readonly containers: readonly ContainerSummary[];
  readonly unidentifiedArchives: number;
  readonly unidentifiedBytes: number;
  readonly unrecognizedFiles: number;
  readonly unrecognizedBytes: number;
}

interface MutableSummary {
  namespace: string;
  pod: string;
  container: string;
  archives: number;
  bytes: number;
  pinned: number;
  oldestTimestampMs: number;
  newestTimestampMs: number;
}

/** Groups a snapshot per container, sorted by namespace/pod/container so every view lists them alike. */
export function summarizeInventory(snapshot: InventorySnapshot): InventorySummary {
  const byContainer = new Map<string, MutableSummary>();
  let unidentifiedArchives = 0;
  let unidentifiedBytes = 0;
  for (const archive of snapshot.archives) {
    const size = archive.fingerprint.size;
    if (!archive.identity) {
      unidentifiedArchives += 1;
      unidentifiedBytes += size;
      continue;
    }
    const { namespace, pod, container } = archive.identity;
    const key = `${namespace}\u0000${pod}\u0000${container}`;
    let entry = byContainer.get(key);
    if (!entry) {
      entry = { namespace, pod, container, archives: 0, bytes: 0, pinned: 0, oldestTimestampMs: Infinity, newestTimestampMs: -Infinity };
      byContainer.set(key, entry);
    }
    entry.archives += 1;
    entry.bytes += size;
    if (archive.pinned) entry.pinned += 1;
    entry.oldestTimestampMs = Math.min(entry.oldestTimestampMs, archive.name.timestampMs);
    entry.newestTimestampMs = Math.max(entry.newestTimestampMs, archive.name.timestampMs);
  }
  const containers = [...byContainer.values()].sort(
    (a, b) => compare(a.namespace, b.namespace) || compare(a.pod, b.pod) || compare(a.container, b.container),
  );
  let unrecognizedBytes = 0;
  for (const file of snapshot.unrecognized) unrecognizedBytes += file.size;
  return {
    containers,
    unidentifiedArchives,
    unidentifiedBytes,
    unrecognizedFiles: snapshot.unrecognized.length,
    unrecognizedBytes,
  };
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
