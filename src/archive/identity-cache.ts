import { readArchiveIdentity, type IdentityReadResult } from './identity.js';
import type { FileFingerprint, ParsedArchiveName } from './types.js';

export type IdentityReader = (path: string, name: ParsedArchiveName, expect?: FileFingerprint) => Promise<IdentityReadResult>;

export interface LiveArchive {
  readonly fileName: string;
  readonly fingerprint: FileFingerprint;
}

export interface IdentityCache {
  /** The identity of the archive with this fingerprint, read at most once per fingerprint. */
  get(path: string, name: ParsedArchiveName, fingerprint: FileFingerprint): Promise<IdentityReadResult>;
  /** Forgets every archive not in `live` (e.g. the records of the latest scan); returns how many were dropped. */
  retain(live: Iterable<LiveArchive>): number;
  readonly size: number;
}

/**
 * The key includes the file name: the same bytes under a new name (a rename) can answer differently,
 * because the identity must agree with the name.
 */
export function fingerprintKey(fileName: string, fingerprint: FileFingerprint): string {
  return `${fingerprint.dev}:${fingerprint.ino}:${fingerprint.size}:${fingerprint.mtimeMs}:${fileName}`;
}

/**
 * Archives are written once and never modified, so (dev, ino, size, mtime) pins down their bytes and
 * both lasting outcomes (identified or the unidentified reason) are cached; a changed file or a
 * transient I/O error is not. Concurrent gets of one key share a read.
 */
export function createIdentityCache(read: IdentityReader = readArchiveIdentity): IdentityCache {
  const entries = new Map<string, Promise<IdentityReadResult>>();
  return {
    get(path, name, fingerprint) {
      const key = fingerprintKey(name.fileName, fingerprint);
      const cached = entries.get(key);
      if (cached !== undefined) return cached;
      const pending = read(path, name, fingerprint).catch(
        (error: unknown): IdentityReadResult => ({ ok: false, reason: `identity read failed: ${String(error)}` }),
      );
      entries.set(key, pending);
      // A failure worth retrying says nothing lasting about these bytes: forget it, so the retry reads again.
      void pending.then((result) => {
        if (!result.ok && result.retry !== undefined && entries.get(key) === pending) entries.delete(key);
      });
      return pending;
    },
    retain(archives) {
      const live = new Set<string>();
      for (const archive of archives) live.add(fingerprintKey(archive.fileName, archive.fingerprint));
      let dropped = 0;
      for (const key of entries.keys()) {
        if (!live.has(key)) {
          entries.delete(key);
          dropped += 1;
        }
      }
      return dropped;
    },
    get size() {
      return entries.size;
    },
  };
}
