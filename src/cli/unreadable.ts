import path from 'node:path';
import { readFailureCode } from '../archive/byte-source.js';
import type { InventorySnapshot } from '../inventory/types.js';
import { RuntimeFailure } from '../errors.js';
import { describeErrno } from './errors.js';

/** Archives of a one-shot scan that could not be read at all (EACCES, EIO), as opposed to read and found without identity. */
export interface UnreadableArchives {
  readonly count: number;
  /** Settled archives in the directory, readable or not. */
  readonly of: number;
  /** Path of the first unreadable archive by file name, and why in words (`permission denied`). */
  readonly first: string | undefined;
  readonly firstCause: string | undefined;
}

export function findUnreadable(snapshot: Pick<InventorySnapshot, 'directory' | 'archives'>): UnreadableArchives {
  let count = 0;
  let first: { fileName: string; code: string } | undefined;
  for (const record of snapshot.archives) {
    if (record.identity !== undefined || record.unidentifiedReason === undefined) continue;
    const code = readFailureCode(record.unidentifiedReason, record.fileName);
    if (code === undefined) continue;
    count += 1;
    if (first === undefined || record.fileName < first.fileName) first = { fileName: record.fileName, code };
  }
  return {
    count,
    of: snapshot.archives.length,
    first: first === undefined ? undefined : path.join(snapshot.directory, first.fileName),
    firstCause: first === undefined ? undefined : describeErrno({ code: first.code }),
  };
}

const summary = (u: UnreadableArchives, directory: string): string =>
  `cannot read ${u.count} of ${u.of} archive${u.of === 1 ? '' : 's'} in ${directory} (first ${u.first ?? '?'}: ${u.firstCause ?? 'unknown'})`;

/**
 * `ls` and `plan` report on what they could read. When not one archive could be read (a user without
 * read access, a failing disk), any report would be empty and read as "nothing there" or "nothing to
 * delete": that is a runtime failure (exit 3). When only some could not be read, the report stands and
 * one warning line says how many were left out.
 */
export function checkReadable(u: UnreadableArchives, directory: string, warn: (line: string) => void): void {
  if (u.count === 0) return;
  if (u.count === u.of) throw new RuntimeFailure(summary(u, directory));
  warn(`${summary(u, directory)}; they are counted as unidentified and never deleted`);
}

/** Warnings of `ls` and `plan` go to stderr, one line each, so stdout stays the report alone. */
export const warnOnStderr = (line: string): void => {
  process.stderr.write(`checkpoint-exporter: warning: ${line}\n`);
};

/** The JSON and YAML fields of the same facts. */
export const unreadableFields = (u: UnreadableArchives): { unreadableArchives: number; firstUnreadable: string | null } => ({
  unreadableArchives: u.count,
  firstUnreadable: u.first ?? null,
});
