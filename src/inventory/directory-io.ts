import { lstat as lstatCallback, type Stats } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import type { Result } from '../archive/types.js';
import { isGone, messageOf } from '../errors.js';

/** A directory removed and recreated under the same path is a different directory: the old watch is dead. */
export interface DirectoryIdentity {
  readonly dev: number;
  readonly ino: number;
}

/**
 * stat, not lstat: the checkpoint directory itself may legitimately be a symlink to a larger disk.
 * Only its entries are held to lstat.
 */
export type ProbeResult =
  | {
      readonly ok: true;
      readonly value: DirectoryIdentity;
      /**
       * The directory's mtime and ctime in nanoseconds: they change with every entry added, removed or
       * renamed (and ctime with a chmod), so a stamp that moved while the watch reported nothing means
       * events were lost.
       */
      readonly stamp: string;
    }
  | { readonly ok: false; readonly reason: string; readonly gone: boolean };

/**
 * `gone` when the path does not lead to a directory; not gone when stat failed for another reason
 * (EACCES, EIO): then what is there is unknown, and the last known inventory stands.
 */
export async function probeDirectory(directory: string): Promise<ProbeResult> {
  try {
    const stats = await stat(directory, { bigint: true });
    if (!stats.isDirectory()) return { ok: false, reason: 'exists but is not a directory', gone: true };
    return { ok: true, value: { dev: Number(stats.dev), ino: Number(stats.ino) }, stamp: `${stats.mtimeNs}/${stats.ctimeNs}` };
  } catch (error) {
    return { ok: false, reason: isGone(error) ? 'does not exist' : messageOf(error), gone: isGone(error) };
  }
}

export interface ListFailure {
  readonly gone: boolean;
  readonly message: string;
}

export async function listDirectory(directory: string): Promise<Result<string[], ListFailure>> {
  try {
    return { ok: true, value: await readdir(directory) };
  } catch (error) {
    return { ok: false, reason: { gone: isGone(error), message: messageOf(error) } };
  }
}

/** `missing` when the entry is gone; `failed` when lstat could not tell (the entry's state is then left as it was). */
export type LstatOutcome =
  | { readonly kind: 'found'; readonly stats: Stats }
  | { readonly kind: 'missing' }
  | { readonly kind: 'failed'; readonly message: string };

/**
 * The callback form, not fs/promises: one lstat per entry is the hot path of a scan, and the promise
 * form costs 2.5 times as much (100,000 lstats, 64 in flight: 1.6–2.1 s against 0.65–0.9 s).
 */
const lstat = (path: string): Promise<Stats> =>
  new Promise((resolve, reject) => lstatCallback(path, (error, stats) => (error ? reject(error) : resolve(stats))));

export async function lstatEntry(path: string): Promise<LstatOutcome> {
  try {
    return { kind: 'found', stats: await lstat(path) };
  } catch (error) {
    return isGone(error) ? { kind: 'missing' } : { kind: 'failed', message: messageOf(error) };
  }
}

/**
 * The path of an entry of the (resolved, absolute) directory: a directory entry's name has no `/`, so
 * a plain concatenation is the path `path.join` would give, without normalizing it again for every
 * lstat and read of 100,000 entries (that normalizing was a tenth of the start's allocations).
 */
export function entryPath(directory: string, fileName: string): string {
  return directory.endsWith('/') ? directory + fileName : `${directory}/${fileName}`;
}
