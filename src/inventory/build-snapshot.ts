import { pinFileNameOf } from '../archive/archive-name.js';
import type { DirectoryIdentity } from './directory-io.js';
import type { EntryState } from './entry-state.js';
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
 * One pass over the entries, so O(n). A pin counts as pinning when an archive of its target name
 * exists, settled or still pending (the pin is waiting for it). A pin of an absent archive is
 * counted as unrecognized with its bytes: it protects nothing, and counting it keeps a stale pin
 * visible to the operator instead of silently ignored.
 */
export function buildSnapshot(entries: ReadonlyMap<string, EntryState>, meta: SnapshotMeta): InventorySnapshot {
  const archives: ArchiveRecord[] = [];
  const unrecognized: UnrecognizedFile[] = [];
  let pendingArchives = 0;
  for (const [fileName, state] of entries) {
    switch (state.kind) {
      case 'settled': {
        const pinned = entries.get(pinFileNameOf(fileName))?.kind === 'pin';
        archives.push(pinned === state.record.pinned ? state.record : Object.freeze({ ...state.record, pinned }));
        break;
      }
      case 'pending':
      case 'identifying':
      case 'verifying':
        pendingArchives += 1;
        break;
      case 'pin': {
        const target = entries.get(state.target);
        const archiveExists =
          target !== undefined && target.kind !== 'pin' && target.kind !== 'unrecognized';
        if (!archiveExists) unrecognized.push(Object.freeze({ fileName, size: state.size }));
        break;
      }
      case 'unrecognized':
        unrecognized.push(Object.freeze({ fileName, size: state.size }));
        break;
    }
  }
  return Object.freeze({
    ...meta,
    archives: Object.freeze(archives),
    unrecognized: Object.freeze(unrecognized),
    pendingArchives,
  });
}
