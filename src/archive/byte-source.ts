import { constants, promises as fs } from 'node:fs';
import type { Result } from './types.js';

/**
 * Positional read access to an archive. Production reads a FileHandle; tests and the benchmark wrap
 * it to count what the tar reader really touches.
 */
export interface ByteSource {
  /** Total size in bytes, fixed when the source was opened. */
  readonly size: number;
  /** Reads up to `length` bytes at `position` into `buffer[offset..]`; resolves to the count read (0 at end). */
  read(buffer: Uint8Array, offset: number, length: number, position: number): Promise<number>;
}

export interface OpenedByteSource {
  readonly source: ByteSource;
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
export async function openFileByteSource(path: string): Promise<Result<OpenedByteSource>> {
  let handle: fs.FileHandle;
  try {
    handle = await fs.open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (error) {
    return { ok: false, reason: `cannot open ${path}: ${describeError(error)}` };
  }
  try {
    const stat = await handle.stat();
    if (!stat.isFile()) {
      await handle.close();
      return { ok: false, reason: `${path} is not a regular file` };
    }
    const source: ByteSource = {
      size: stat.size,
      read: async (buffer, offset, length, position) => (await handle.read(buffer, offset, length, position)).bytesRead,
    };
    return { ok: true, value: { source, close: () => handle.close() } };
  } catch (error) {
    await handle.close().catch(() => undefined);
    return { ok: false, reason: `cannot stat ${path}: ${describeError(error)}` };
  }
}

/** Opens `path`, runs `use` on it and always closes it; open failures come back as values. */
export async function withFileByteSource<T>(path: string, use: (source: ByteSource) => Promise<Result<T>>): Promise<Result<T>> {
  const opened = await openFileByteSource(path);
  if (!opened.ok) return opened;
  try {
    return await use(opened.value.source);
  } catch (error) {
    // A read error (EIO, file vanished on a network filesystem) is an outcome for this archive, not a bug.
    return { ok: false, reason: `cannot read ${path}: ${describeError(error)}` };
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

/** An in-memory source, for archives built in tests. */
export function bufferByteSource(bytes: Uint8Array): ByteSource {
  return {
    size: bytes.length,
    read: async (buffer, offset, length, position) => {
      if (position >= bytes.length) return 0;
      const chunk = bytes.subarray(position, Math.min(bytes.length, position + length));
      buffer.set(chunk, offset);
      return chunk.length;
    },
  };
}

export function describeError(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as NodeJS.ErrnoException).code;
    return code === undefined ? error.message : `${code}: ${error.message}`;
  }
  return String(error);
}
