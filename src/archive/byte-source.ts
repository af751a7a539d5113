import { close, closeSync, constants, fstat, fstatSync, open, openSync, read, readSync, type Stats } from 'node:fs';
import { describeError } from '../errors.js';
import { sameFingerprint } from './fingerprint.js';
import type { FileFingerprint, ReadFailure, ReadResult, Result, RetryHint } from './types.js';

/**
 * Positional read access to an archive. Production reads a FileHandle; tests and the benchmark wrap
 * it to count what the tar reader really touches.
 */
export interface ByteSource {
  /** Total size in bytes, fixed when the source was opened; for a streamed source, only an upper bound. */
  readonly size: number;
  /**
   * A stream read front to back (a decompressed archive): its size is unknown until it ends, and reads
   * never go back before the last byte delivered.
   */
  readonly streamed?: boolean;
  /** Reads up to `length` bytes at `position` into `buffer[offset..]`; resolves to the count read (0 at end). */
  read(buffer: Uint8Array, offset: number, length: number, position: number): Promise<number>;
}

export interface OpenedByteSource {
  readonly source: ByteSource;
  /** True while the open file still has the size and mtime it had when opened. */
  unchanged(): Promise<boolean>;
  close(): Promise<void>;
}

export interface ReadStats {
  readonly reads: number;
  readonly bytesRead: number;
}

/**
 * Opens a regular file for positional reads. O_NOFOLLOW refuses a symlink planted under an archive
 * name and O_NONBLOCK keeps a FIFO from hanging the open; fstat then refuses anything not a regular file.
 */
export async function openFileByteSource(path: string, expect?: FileFingerprint): Promise<ReadResult<OpenedByteSource>> {
  let fd: number;
  try {
    fd = await openFd(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (error) {
    return readFailure(`cannot open ${path}: ${describeError(error)}`, error);
  }
  const closeOnce = (): Promise<void> => closeFd(fd);
  try {
    const stat = await fstatFd(fd);
    if (!stat.isFile()) {
      await closeOnce();
      return { ok: false, reason: `${path} is not a regular file` };
    }
    if (expect !== undefined && !sameFingerprint(stat, expect)) {
      // Replaced or rewritten since it was listed: whatever it holds now is not what was listed.
      await closeOnce();
      return { ok: false, reason: `${path} changed since it was listed`, retry: 'changed' };
    }
    const source: ByteSource = {
      size: stat.size,
      read: (buffer, offset, length, position) => readFd(fd, buffer, offset, length, position),
    };
    const unchanged = async (): Promise<boolean> => {
      const after = await fstatFd(fd);
      return sameFingerprint(after, stat);
    };
    return { ok: true, value: { source, unchanged, close: closeOnce } };
  } catch (error) {
    await closeOnce().catch(() => undefined);
    return readFailure(`cannot stat ${path}: ${describeError(error)}`, error);
  }
}

/*
 * The callback API on a plain descriptor, not FileHandle: an identity read is four tiny calls, and
 * FileHandle's promise and tracking machinery costs more main-thread time than the calls themselves
 * (measured on 20,000 archives: about half of the start-up CPU).
 */
const openFd = (path: string, flags: number): Promise<number> =>
  new Promise((resolve, reject) => open(path, flags, (error, fd) => (error ? reject(error) : resolve(fd))));
const fstatFd = (fd: number): Promise<Stats> => new Promise((resolve, reject) => fstat(fd, (error, stats) => (error ? reject(error) : resolve(stats))));
const closeFd = (fd: number): Promise<void> => new Promise((resolve, reject) => close(fd, (error) => (error ? reject(error) : resolve())));
const readFd = (fd: number, buffer: Uint8Array, offset: number, length: number, position: number): Promise<number> =>
  new Promise((resolve, reject) => read(fd, buffer, offset, length, position, (error, bytesRead) => (error ? reject(error) : resolve(bytesRead))));

/**
 * The same as openFileByteSource with blocking calls, for a worker thread whose only job is reading
 * archives: each call is a plain syscall, with no thread-pool round trip per read.
 */
export function openFileByteSourceSync(path: string, expect?: FileFingerprint): ReadResult<OpenedByteSource> {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (error) {
    return readFailure(`cannot open ${path}: ${describeError(error)}`, error);
  }
  const closeOnce = (): Promise<void> => {
    closeSync(fd);
    return Promise.resolve();
  };
  try {
    const stat = fstatSync(fd);
    if (!stat.isFile()) {
      closeSync(fd);
      return { ok: false, reason: `${path} is not a regular file` };
    }
    if (expect !== undefined && !sameFingerprint(stat, expect)) {
      closeSync(fd);
      return { ok: false, reason: `${path} changed since it was listed`, retry: 'changed' };
    }
    const source: ByteSource = {
      size: stat.size,
      read: (buffer, offset, length, position) => Promise.resolve(readSync(fd, buffer, offset, length, position)),
    };
    const unchanged = (): Promise<boolean> => {
      const after = fstatSync(fd);
      return Promise.resolve(sameFingerprint(after, stat));
    };
    return { ok: true, value: { source, unchanged, close: closeOnce } };
  } catch (error) {
    try {
      closeSync(fd);
    } catch {
      // Already failing; the first error is the one reported.
    }
    return readFailure(`cannot stat ${path}: ${describeError(error)}`, error);
  }
}

/** Errors that say nothing about the archive itself: the same read may well succeed a little later. */
const TRANSIENT_CODES: ReadonlySet<string> = new Set(['EIO', 'EMFILE', 'ENFILE', 'EAGAIN', 'EBUSY', 'EINTR', 'ENOMEM', 'ETIMEDOUT']);

export function retryHintOf(error: unknown): RetryHint | undefined {
  const code = error instanceof Error ? (error as NodeJS.ErrnoException).code : undefined;
  if (code === undefined) return undefined;
  if (TRANSIENT_CODES.has(code)) return 'transient';
  // Gone or replaced between the lstat and the open: look at the entry again.
  if (code === 'ENOENT' || code === 'ELOOP' || code === 'ENOTDIR') return 'changed';
  return undefined;
}

function readFailure(reason: string, error: unknown): ReadFailure {
  const retry = retryHintOf(error);
  return retry === undefined ? { ok: false, reason } : { ok: false, reason, retry };
}

/**
 * Opens `path`, runs `use` on it and always closes it; open failures come back as values. With
 * `expect`, the opened file must have exactly that device, inode, size and mtime.
 */
export async function withFileByteSource<R extends Result<unknown>>(
  path: string,
  use: (source: ByteSource) => Promise<R>,
  expect?: FileFingerprint,
  opener: (path: string, expect?: FileFingerprint) => Promise<ReadResult<OpenedByteSource>> | ReadResult<OpenedByteSource> = openFileByteSource,
): Promise<R | ReadFailure> {
  const opened = await opener(path, expect);
  if (!opened.ok) return opened;
  try {
    const result = await use(opened.value.source);
    // Written to while it was read: what was read may be neither the old bytes nor the new ones.
    if (expect !== undefined && !(await opened.value.unchanged())) return { ok: false, reason: `${path} changed while it was read`, retry: 'changed' };
    return result;
  } catch (error) {
    // A read error (EIO, file vanished on a network filesystem) is an outcome for this archive, not a bug.
    return readFailure(`cannot read ${path}: ${describeError(error)}`, error);
  } finally {
    await opened.value.close().catch(() => undefined);
  }
}

/** Wraps a source so every read and every byte delivered is counted. */
export function countReads(inner: ByteSource): { readonly source: ByteSource; stats(): ReadStats } {
  let reads = 0;
  let bytesRead = 0;
  const source: ByteSource = {
    size: inner.size,
    read: async (buffer, offset, length, position) => {
      const count = await inner.read(buffer, offset, length, position);
      reads += 1;
      bytesRead += count;
      return count;
    },
  };
  return { source, stats: () => ({ reads, bytesRead }) };
}

/**
 * A source whose first bytes were already read (to sniff the format): reads inside them are answered
 * from memory, so walking the headers after sniffing costs no extra read.
 */
export function prefetchedByteSource(inner: ByteSource, head: Uint8Array): ByteSource {
  return {
    size: inner.size,
    read: (buffer, offset, length, position) => {
      if (position + length <= head.length) {
        buffer.set(head.subarray(position, position + length), offset);
        return Promise.resolve(length);
      }
      return inner.read(buffer, offset, length, position);
    },
  };
}

/**
 * The errno code (`EACCES`, `EIO`) when an unidentified reason says the file itself could not be
 * opened, stat'ed or read, as readFailure words it (`cannot open <path>: EACCES: …`); undefined for a
 * reason about the archive's content (no identity annotations, a missing spec.dump). `fileName` is
 * the archive's base name, which ends the path in the reason.
 */
export function readFailureCode(reason: string, fileName: string): string | undefined {
  if (!/^cannot (?:open|stat|read) /.test(reason)) return undefined;
  const marker = `${fileName}: `;
  const at = reason.lastIndexOf(marker);
  if (at < 0) return undefined;
  return /^(E[A-Z0-9]+):/.exec(reason.slice(at + marker.length))?.[1];
}
