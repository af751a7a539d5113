import type { Stats } from 'node:fs';
import { parseArchiveName, pinTargetOf } from '../archive/archive-name.js';
import type { FileFingerprint, ParsedArchiveName } from '../archive/types.js';
import { fingerprintOf } from './fingerprint.js';

/** What one lstat of one directory entry says it is. */
export type EntryObservation =
  | { readonly kind: 'missing' }
  | { readonly kind: 'archive'; readonly name: ParsedArchiveName; readonly fingerprint: FileFingerprint }
  | { readonly kind: 'pin'; readonly target: string; readonly size: number }
  | { readonly kind: 'unrecognized'; readonly size: number };

/**
 * Classifies an entry from its name and its lstat (undefined: it is gone). Only regular files carry
 * meaning: a symlink named like an archive or pin would let anyone who can write the directory
 * point the reader (or the deleter) elsewhere, so it is unrecognized and never followed.
 * Non-regular entries (symlinks, subdirectories, sockets) are counted with size 0: their own lstat
 * size is not archive bytes, and sizing a subdirectory would mean walking it, which depth-0
 * watching deliberately never does.
 */
export function classifyEntry(fileName: string, stats: Stats | undefined): EntryObservation {
  if (stats === undefined) return { kind: 'missing' };
  if (!stats.isFile()) return { kind: 'unrecognized', size: 0 };
  const parsed = parseArchiveName(fileName);
  if (parsed.ok) return { kind: 'archive', name: parsed.value, fingerprint: fingerprintOf(stats) };
  const target = pinTargetOf(fileName);
  if (target !== undefined) return { kind: 'pin', target, size: stats.size };
  return { kind: 'unrecognized', size: stats.size };
}
