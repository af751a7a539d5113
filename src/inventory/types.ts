import type { ArchiveIdentity, FileFingerprint, IdentitySource, ParsedArchiveName } from '../archive/types.js';

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
  /** A `<fileName>.keep` file exists beside it. */
  readonly pinned: boolean;
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
