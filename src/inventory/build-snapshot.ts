import type { DirectoryIdentity } from './directory-io.js';
import type { InventoryModel } from './inventory-model.js';
import type { ArchiveRecord, InventorySnapshot, UnrecognizedFile } from './types.js';

export interface SnapshotMeta {
  readonly directory: string;
  readonly directoryPresent: boolean;
  /** Required, not optional, so every snapshot states it; undefined while the directory is absent. */
  readonly directoryIdentity: DirectoryIdentity | undefined;
  readonly initialScanComplete: boolean;
  readonly lastScanTimestampMs: number | undefined;
  readonly lastScanDurationSeconds: number | undefined;
}

/**
 * Copies the model's views into an immutable snapshot: one pass, O(n). The inventory builds one only
 * when asked and caches it until the next change, so a burst of events costs at most one build.
 * Archives come grouped by container, oldest first within each, then the unidentified ones.
 */
export function buildSnapshot(model: Pick<InventoryModel, 'index' | 'unrecognized' | 'pendingArchives'>, meta: SnapshotMeta): InventorySnapshot {
  const archives: ArchiveRecord[] = [];
  for (const group of model.index.containers()) for (const record of group.records) archives.push(record);
  for (const record of model.index.unidentified.values()) archives.push(record);
  const unrecognized: UnrecognizedFile[] = [];
  for (const [fileName, size] of model.unrecognized) unrecognized.push(Object.freeze({ fileName, size }));
  return Object.freeze({
    ...meta,
    archives: Object.freeze(archives),
    unrecognized: Object.freeze(unrecognized),
    pendingArchives: model.pendingArchives,
  });
}
