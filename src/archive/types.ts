/**
 * Shared shapes for archive identity. The file name alone is ambiguous (namespace and container
 * may both contain `-`), so a name parse yields only the pod, the instant and the
 * `<namespace>-<container>` remainder; the true identity comes from `spec.dump` inside the tar.
 */

export interface ParsedArchiveName {
  /** Base name of the file, e.g. `checkpoint-web-0_shop-api-nginx-2024-01-28T00:10:45Z.tar`. */
  readonly fileName: string;
  readonly pod: string;
  /** `<namespace>-<container>`: ambiguous until checked against spec.dump. */
  readonly namespaceContainer: string;
  /** The timestamp as written in the name. */
  readonly timestampText: string;
  /** Absolute instant in epoch milliseconds (a zone-less stamp is read as UTC). */
  readonly timestampMs: number;
}

export interface ArchiveIdentity {
  readonly namespace: string;
  readonly pod: string;
  readonly container: string;
}

/** Which annotation family in spec.dump supplied (part of) the identity. */
export type IdentitySource = 'cri-o' | 'containerd' | 'criu';

export type Result<T, E = string> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly reason: E };

/**
 * Why reading a file failed when trying again may succeed: `changed`, the file opened is not the one
 * lstat saw (other inode, size or mtime); `transient`, an I/O error that may pass (EIO, EMFILE, ...).
 */
export type RetryHint = 'changed' | 'transient';

/** A failed read of a file, with a hint when it is worth reading again. */
export interface ReadFailure {
  readonly ok: false;
  readonly reason: string;
  readonly retry?: RetryHint;
}

export type ReadResult<T> = { readonly ok: true; readonly value: T } | ReadFailure;

/** Compressed archives this reader can walk (zstd only where the runtime's zlib offers it). */
export type CompressionFormat = 'gzip' | 'zstd';

/**
 * What fills an archive, by part: `memory` (CRIU page images, `checkpoint/pages-*.img`),
 * `checkpoint_other` (every other entry under `checkpoint/`), `rootfs_diff` (`rootfs-diff.tar`) and
 * `other` (everything else).
 */
export type ContentPart = 'memory' | 'checkpoint_other' | 'rootfs_diff' | 'other';
export const CONTENT_PARTS: readonly ContentPart[] = ['memory', 'checkpoint_other', 'rootfs_diff', 'other'];

/**
 * The composition and restorability of one archive, from its entry headers. Plain and small: it
 * crosses from the identity worker by structured clone, once per archive.
 *
 * The three named parts are the sizes of their entries' contents (decompressed ones for a compressed
 * archive); `other` is the file size minus them, never below 0. For a plain tar the four parts sum
 * exactly to the file size (`other` holds the remaining entries, every header and the padding); for a
 * compressed archive they sum to the larger of the file size and the three named parts.
 */
export interface ArchiveContents {
  readonly memoryBytes: number;
  readonly checkpointOtherBytes: number;
  readonly rootfsDiffBytes: number;
  readonly otherBytes: number;
  /** Entries a restore needs (spec.dump, config.dump, checkpoint/inventory.img) that are absent or not regular files; empty when restorable. */
  readonly missing: readonly string[];
  /** Absent for a plain tar. */
  readonly compression?: CompressionFormat;
  /** Compressed archives: bytes of the decompressed tar up to its end-of-archive marker. */
  readonly decompressedBytes?: number;
}

export interface IdentifiedArchive {
  readonly identity: ArchiveIdentity;
  readonly sources: readonly IdentitySource[];
  /** Absent only where an older reader or a test built the value without walking the archive. */
  readonly contents?: ArchiveContents;
}

/** (device, inode, size, mtime): an archive with the same four is the same bytes, so it is read once. */
export interface FileFingerprint {
  readonly dev: number;
  readonly ino: number;
  readonly size: number;
  readonly mtimeMs: number;
  /**
   * Hard links to the inode (lstat's nlink) when last looked at. Not part of the identity: a backup
   * made with `cp -al` or `rsync --link-dest` adds a link without touching the bytes. It says what an
   * unlink frees: nothing while other links remain. Absent where a fingerprint was built without an
   * lstat; disk pressure then counts the archive as freeing nothing.
   */
  readonly nlink?: number;
  /**
   * The inode's change time when last looked at. Not part of the identity either (a chmod or a new
   * link moves it without touching the bytes), but a writer cannot set it back: the persisted index
   * reuses a record only for a file whose ctime is the one it was read with.
   */
  readonly ctimeMs?: number;
}
