import type { ArchiveIdentity } from '../../src/archive/types.js';
import type { ArchiveIndex } from '../../src/inventory/archive-index.js';
import type { ArchiveRecord, InventorySnapshot, InventoryStatus, UnrecognizedFile } from '../../src/inventory/types.js';

let nextInode = 1000;

/** An in-memory archive record for tests of code that reads snapshots (metrics, views). */
export function archiveRecord(
  identity: ArchiveIdentity | undefined,
  opts: { timestamp: string; size: number; pinned?: boolean; pod?: string; remainder?: string },
): ArchiveRecord {
  const pod = identity?.pod ?? opts.pod ?? 'unknown-0';
  const remainder = identity ? `${identity.namespace}-${identity.container}` : (opts.remainder ?? 'ns-c');
  const fileName = `checkpoint-${pod}_${remainder}-${opts.timestamp}.tar`;
  const timestampMs = Date.parse(opts.timestamp);
  return {
    fileName,
    name: { fileName, pod, namespaceContainer: remainder, timestampText: opts.timestamp, timestampMs },
    fingerprint: { dev: 1, ino: nextInode++, size: opts.size, mtimeMs: timestampMs, nlink: 1 },
    identity,
    identitySources: identity ? ['cri-o'] : [],
    unidentifiedReason: identity ? undefined : 'spec.dump has no identity annotations',
    pinned: opts.pinned ?? false,
  };
}

export function inventorySnapshot(archives: readonly ArchiveRecord[], unrecognized: readonly UnrecognizedFile[] = []): InventorySnapshot {
  return {
    directory: '/checkpoints',
    directoryPresent: true,
    archives,
    unrecognized,
    pendingArchives: 0,
    initialScanComplete: true,
    lastScanTimestampMs: Date.parse('2026-01-01T00:00:00Z'),
    lastScanDurationSeconds: 0.25,
  };
}

/** The status a running inventory reports for this index and these stray files, for tests of code that reads the index (metrics, retention). */
export function inventoryStatus(index: ArchiveIndex, unrecognized: readonly UnrecognizedFile[] = [], overrides: Partial<InventoryStatus> = {}): InventoryStatus {
  let unidentifiedBytes = 0;
  for (const record of index.unidentified.values()) unidentifiedBytes += record.fingerprint.size;
  let identifiedBytes = 0;
  for (const group of index.containers()) for (const record of group.records) identifiedBytes += record.fingerprint.size;
  const linked = [...index.unidentified.values(), ...[...index.containers()].flatMap((group) => [...group.records])].filter((record) => (record.fingerprint.nlink ?? 1) > 1);
  const status = {
    directory: '/checkpoints',
    directoryPresent: true,
    directoryIdentity: { dev: 1, ino: 2 },
    directoryReadable: true,
    directoryProblem: undefined,
    initialScanComplete: true,
    archives: index.size,
    identifiedBytes,
    unidentifiedArchives: index.unidentified.size,
    unidentifiedBytes,
    unrecognizedFiles: unrecognized.length,
    unrecognizedBytes: unrecognized.reduce((sum, file) => sum + file.size, 0),
    hardLinkedArchives: linked.length,
    hardLinkedBytes: linked.reduce((sum, record) => sum + record.fingerprint.size, 0),
    pendingArchives: 0,
    lastScanTimestampMs: Date.parse('2026-01-01T00:00:00Z'),
    lastScanDurationSeconds: 0.25,
    scanErrors: { stat: 0, watch: 0, readdir: 0, lstat: 0 },
    resyncs: { initial: 1, periodic: 0, events_lost: 0, unreported_change: 0, directory_event: 0, unreadable_retry: 0 },
  };
  return { ...status, ...overrides };
}
