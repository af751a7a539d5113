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

export interface IdentifiedArchive {
  readonly identity: ArchiveIdentity;
  readonly sources: readonly IdentitySource[];
}

/** (device, inode, size, mtime): an archive with the same four is the same bytes, so it is read once. */
export interface FileFingerprint {
  readonly dev: number;
  readonly ino: number;
  readonly size: number;
  readonly mtimeMs: number;
}
