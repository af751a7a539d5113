import type { Stats } from 'node:fs';
import { parseArchiveName, pinTargetOf } from '../archive/archive-name.js';
import type { FileFingerprint, ParsedArchiveName, Result } from '../archive/types.js';
import { fingerprintOf } from '../archive/fingerprint.js';

/**
 * Which names are archives and which are their pins: a container checkpoint directory's by default; the
 * pod checkpoint directory has its own (pod-archive-naming.ts).
 */
export interface ArchiveNaming {
  parse(fileName: string): Result<ParsedArchiveName>;
  pinTargetOf(fileName: string): string | undefined;
}

export const CONTAINER_ARCHIVE_NAMING: ArchiveNaming = { parse: parseArchiveName, pinTargetOf };

/** What one lstat of one directory entry says it is. */
export type EntryObservation =
  | { readonly kind: 'missing' }
  | { readonly kind: 'archive'; readonly name: ParsedArchiveName; readonly fingerprint: FileFingerprint; readonly ctimeMs: number }
  | { readonly kind: 'pin'; readonly target: string; readonly size: number }
  | { readonly kind: 'unrecognized'; readonly size: number };

/**
 * Classifies an entry from its name and its lstat (undefined: it is gone).
 *
 * Archives must be regular files: a symlink named like an archive would let anyone who can write
 * the directory point the reader (or the deleter) elsewhere, so it is unrecognized and never
 * followed. Pins are the opposite: any entry named `<archive>.keep`, or `<archive>.keep.tmp` (a pin
 * being written, renamed to `.keep` once complete), pins, whatever its type (file, directory,
 * symlink, dangling or not), because the executor refuses to delete an archive while any such entry
 * exists; one rule in both places means a pin is never planned and then refused.
 * Non-regular entries count with size 0: their own lstat size is not archive bytes, and sizing a
 * subdirectory would mean walking it, which a depth-0 inventory deliberately never does.
 */
export function classifyEntry(fileName: string, stats: Stats | undefined, naming: ArchiveNaming = CONTAINER_ARCHIVE_NAMING): EntryObservation {
  if (stats === undefined) return { kind: 'missing' };
  const size = stats.isFile() ? stats.size : 0;
  const target = naming.pinTargetOf(fileName);
  if (target !== undefined) return { kind: 'pin', target, size };
  if (!stats.isFile()) return { kind: 'unrecognized', size: 0 };
  const parsed = naming.parse(fileName);
  if (parsed.ok) return { kind: 'archive', name: parsed.value, fingerprint: fingerprintOf(stats), ctimeMs: stats.ctimeMs };
  return { kind: 'unrecognized', size };
}
