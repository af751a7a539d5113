import type { Stats } from 'node:fs';
import type { FileFingerprint } from './types.js';

export function fingerprintOf(stats: Stats): FileFingerprint {
  return { dev: stats.dev, ino: stats.ino, size: stats.size, mtimeMs: stats.mtimeMs, ctimeMs: stats.ctimeMs, nlink: stats.nlink };
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
