import type { Stats } from 'node:fs';
import type { FileFingerprint } from '../archive/types.js';

export function fingerprintOf(stats: Stats): FileFingerprint {
  return { dev: stats.dev, ino: stats.ino, size: stats.size, mtimeMs: stats.mtimeMs };
}

export function sameFingerprint(a: FileFingerprint, b: FileFingerprint): boolean {
  return a.dev === b.dev && a.ino === b.ino && a.size === b.size && a.mtimeMs === b.mtimeMs;
}
