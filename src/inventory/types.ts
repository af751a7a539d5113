import type { ArchiveIdentity, CompressionFormat, FileFingerprint, IdentitySource, ParsedArchiveName } from '../archive/types.js';

/** One settled (complete) archive in the checkpoint directory. */
export interface ArchiveRecord {
  /** Base name inside the checkpoint directory; never a path. */
  readonly fileName: string;
  readonly name: ParsedArchiveName;
  readonly fingerprint: FileFingerprint;
  /** Undefined when spec.dump did not give a complete, consistent identity: never deleted by per-scope limits. */
  readonly identity: ArchiveIdentity | undefined;
  readonly identitySources: readonly IdentitySource[];
  /** Why the archive is unidentified; undefined when identified. */
  readonly unidentifiedReason: string | undefined;
  /** An entry `<fileName>.keep`, or `<fileName>.keep.tmp` (a pin being written), exists beside it. */
  readonly pinned: boolean;
  /**
   * Bytes by part (see ArchiveContents: memory pages, the rest of checkpoint/, rootfs-diff.tar, other),
   * identified or not; undefined when the headers could not be walked.
   */
  readonly memoryBytes?: number | undefined;
  readonly checkpointOtherBytes?: number | undefined;
  readonly rootfsDiffBytes?: number | undefined;
  readonly otherBytes?: number | undefined;
  /** False when spec.dump, config.dump or checkpoint/inventory.img is missing; undefined when unknown. */
  readonly restorable?: boolean | undefined;
  /** Which of those entries are missing (a shared array per combination); undefined when unknown. */
  readonly missingEntries?: readonly string[] | undefined;
  /** Undefined for a plain tar (or when unknown). */
  readonly compression?: CompressionFormat | undefined;
  /**
   * The fingerprint the identity was read (or taken from the persisted index) for. `fingerprint` moves
   * on when only the link count or ctime changes (a backup's hard link, a chmod) without a read; this
   * one does not, so the persisted index never vouches for a ctime the identity was not read with (a
   * same-size rewrite with mtime set back moves only ctime). Undefined where a record was built
   * otherwise: such a record is not persisted.
   */
  readonly identifiedWith?: FileFingerprint | undefined;
}

export interface UnrecognizedFile {
  readonly fileName: string;
  readonly size: number;
}

/** An immutable view of the directory at one instant: what the planner, metrics and API read. */
export interface InventorySnapshot {
  readonly directory: string;
  readonly directoryPresent: boolean;
  /**
   * dev/ino of the directory whose entries are listed (the target when the path is a symlink);
   * undefined while it is absent. Lets a deletion check the path still leads to the same directory.
   */
  readonly directoryIdentity?: { readonly dev: number; readonly ino: number };
  /** Settled archives, identified and unidentified. */
  readonly archives: readonly ArchiveRecord[];
  /** Files whose name is not an archive or pin (pins of missing archives count here too). */
  readonly unrecognized: readonly UnrecognizedFile[];
  /** Archive-named files still changing (not yet settled). */
  readonly pendingArchives: number;
  /** True once every archive present at start has been identified or found unidentified. */
  readonly initialScanComplete: boolean;
  readonly lastScanTimestampMs: number | undefined;
  readonly lastScanDurationSeconds: number | undefined;
}

/**
 * Why a full scan (readdir + lstat of every entry) ran: `initial` when the directory was attached,
 * `periodic` by the resync interval, `events_lost` after a burst of events large enough to have
 * overflowed the kernel's inotify queue (whose overflow event libuv drops), `unreported_change` when
 * the directory's mtime/ctime moved while the watch reported nothing, `directory_event` when the watch
 * reported the directory itself (moved, chmod) or failed, `unreadable_retry` while the directory
 * cannot be listed.
 */
export const RESYNC_REASONS = ['initial', 'periodic', 'events_lost', 'unreported_change', 'directory_event', 'unreadable_retry'] as const;
export type ResyncReason = (typeof RESYNC_REASONS)[number];

/** Operations on the directory and its entries that can fail, counted in checkpoint_scan_errors_total. */
export const SCAN_OPERATIONS = ['stat', 'watch', 'readdir', 'lstat'] as const;
export type ScanOperation = (typeof SCAN_OPERATIONS)[number];

/** Directory-wide figures, read in O(1) without building a snapshot. */
export interface InventoryStatus {
  readonly directory: string;
  readonly directoryPresent: boolean;
  readonly directoryIdentity: { readonly dev: number; readonly ino: number } | undefined;
  /**
   * The directory can be seen: false while stat, watching or listing it fails (EACCES, EIO, no inotify
   * watch left). A missing directory is not unreadable: it is absent.
   */
  readonly directoryReadable: boolean;
  /** Why the directory cannot be seen (missing or unreadable), in the words of the error; undefined while it can. */
  readonly directoryProblem: string | undefined;
  readonly initialScanComplete: boolean;
  readonly archives: number;
  readonly identifiedBytes: number;
  readonly unidentifiedArchives: number;
  readonly unidentifiedBytes: number;
  readonly unrecognizedFiles: number;
  readonly unrecognizedBytes: number;
  /** Settled archives whose inode has other hard links (a backup made with cp -al), and their bytes: deleting one frees no space. */
  readonly hardLinkedArchives: number;
  readonly hardLinkedBytes: number;
  readonly pendingArchives: number;
  readonly lastScanTimestampMs: number | undefined;
  readonly lastScanDurationSeconds: number | undefined;
  /** Failed stats, watches and readdirs of the directory and lstats of its entries since start. */
  readonly scanErrors: Readonly<Record<ScanOperation, number>>;
  /** Full scans since start, by reason. */
  readonly resyncs: Readonly<Record<ResyncReason, number>>;
}

/** What changed in one batch of directory events, delivered once per batch. */
export interface InventoryChange {
  /** Containers whose archives (or their pins) changed, by container key. */
  readonly containers: ReadonlyMap<string, import('../archive/types.js').ArchiveIdentity>;
  /** The whole view changed: the directory was (re)attached or detached, or the initial scan completed. */
  readonly everything: boolean;
}
