import type { Stats } from 'node:fs';
import type { FileFingerprint } from './types.js';

/**
 * lstat's numbers arrive as doubles, even a link count of 1, and a double in an object is a heap
 * object of its own: as a small integer (where the value is one) it is stored in place, four objects
 * less per archive held. Values beyond 32 bits stay as they are, exactly.
 */
const compact = (value: number): number => ((value | 0) === value ? value | 0 : value);

export function fingerprintOf(stats: Stats): FileFingerprint {
  return { dev: compact(stats.dev), ino: compact(stats.ino), size: compact(stats.size), mtimeMs: stats.mtimeMs, ctimeMs: stats.ctimeMs, nlink: compact(stats.nlink) };
}

/**
 * The same bytes: device, inode, size and mtime. The one test of it, for the inventory (read an archive
 * again?) and the identity reader (changed since listed, or while read). The link count is left out on
 * purpose: a backup linking the archive elsewhere changes it but not the bytes, and must not make the
 * archive pending and read again (it is taken into the record instead, see observeEntry).
 */
export function sameFingerprint(a: FileFingerprint, b: FileFingerprint): boolean {
  return a.dev === b.dev && a.ino === b.ino && a.size === b.size && a.mtimeMs === b.mtimeMs;
}
