import * as zlib from 'node:zlib';
import type { Transform } from 'node:stream';
import type { ByteSource } from './byte-source.js';
import { decodeHeader, BLOCK_SIZE, isZeroBlock } from './tar-header.js';
import type { CompressionFormat, Result } from './types.js';
import { messageOf } from '../errors.js';

/**
 * Compressed checkpoint archives. The upstream operator accepts gzip-compressed archives; a gzip
 * stream cannot be seeked, so its headers are found by decompressing it front to back. That costs CPU
 * in proportion to what the archive holds, so every such read is bounded in decompressed bytes and in
 * time (a small "decompression bomb" must not keep a worker busy for ever) and callers run at most
 * one at a time.
 */

/** What the first bytes of a file say it is. */
export type ArchiveEncoding =
  | { readonly kind: 'tar' }
  | { readonly kind: 'compressed'; readonly format: CompressionFormat }
  | { readonly kind: 'unsupported'; readonly reason: string };

/**
 * Checkpoints hold memory images of many gigabytes; reading one this size decompresses at a few hundred
 * MB/s, well within the time bound. Anything beyond is refused rather than read for minutes.
 */
export const MAX_DECOMPRESSED_BYTES = 16 * 1024 ** 3;
/** A compressed read that takes longer than this is abandoned: it would hold up every other compressed archive. */
export const MAX_DECOMPRESSION_MS = 180_000;
/** Compressed bytes read per call, and decompressed bytes per chunk. */
const COMPRESSED_CHUNK_BYTES = 256 * 1024;
const DECOMPRESSED_CHUNK_BYTES = 64 * 1024;

export interface DecompressionLimits {
  readonly maxBytes: number;
  readonly maxMs: number;
  /** Monotonic clock in milliseconds; injectable for tests. */
  readonly now?: () => number;
}

export const DEFAULT_DECOMPRESSION_LIMITS: DecompressionLimits = { maxBytes: MAX_DECOMPRESSED_BYTES, maxMs: MAX_DECOMPRESSION_MS };

const GZIP_MAGIC = [0x1f, 0x8b];
const ZSTD_MAGIC = [0x28, 0xb5, 0x2f, 0xfd];
const XZ_MAGIC = [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00];
const BZIP2_MAGIC = [0x42, 0x5a, 0x68];
const LZ4_MAGIC = [0x04, 0x22, 0x4d, 0x18];

const startsWith = (bytes: Uint8Array, magic: readonly number[]): boolean => magic.every((byte, index) => bytes[index] === byte);

type ZstdFactory = (options?: zlib.ZlibOptions) => Transform;

/** zstd decompression exists in Node's zlib from 22.15 and 23.8 on; Node 20 has none. Checked at run time. */
function zstdFactory(): ZstdFactory | undefined {
  const candidate = (zlib as unknown as { createZstdDecompress?: unknown }).createZstdDecompress;
  return typeof candidate === 'function' ? (candidate as ZstdFactory) : undefined;
}

export function zstdSupported(): boolean {
  return zstdFactory() !== undefined;
}

/**
 * Tells a tar from a compressed stream by content, whatever the file is called. A valid tar header (or
 * the zero block of an empty tar) wins over any magic number, so a tar whose first entry happens to be
 * named like a magic number is still a tar; anything unrecognized is left to the tar reader to refuse.
 */
export function sniffEncoding(head: Uint8Array): ArchiveEncoding {
  if (head.length >= BLOCK_SIZE) {
    const block = head.subarray(0, BLOCK_SIZE);
    if (isZeroBlock(block) || decodeHeader(block).ok) return { kind: 'tar' };
  }
  if (startsWith(head, GZIP_MAGIC)) return { kind: 'compressed', format: 'gzip' };
  if (startsWith(head, ZSTD_MAGIC)) {
    if (zstdSupported()) return { kind: 'compressed', format: 'zstd' };
    return { kind: 'unsupported', reason: `zstd-compressed archive, and this Node.js ${process.version} has no zstd decompressor (zlib offers one from Node.js 22.15 on)` };
  }
  if (startsWith(head, XZ_MAGIC)) return { kind: 'unsupported', reason: 'xz-compressed archive: only gzip (and zstd where Node.js offers it) can be read' };
  if (startsWith(head, BZIP2_MAGIC) && head[3] !== undefined && head[3] >= 0x31 && head[3] <= 0x39) {
    return { kind: 'unsupported', reason: 'bzip2-compressed archive: only gzip (and zstd where Node.js offers it) can be read' };
  }
  if (startsWith(head, LZ4_MAGIC)) return { kind: 'unsupported', reason: 'lz4-compressed archive: only gzip (and zstd where Node.js offers it) can be read' };
  return { kind: 'tar' };
}

/** A bound was reached: the read stops and the archive stays unidentified with this reason. */
class DecompressionStopped extends Error {}

function createDecompressor(format: CompressionFormat): Transform {
  if (format === 'gzip') return zlib.createGunzip({ chunkSize: DECOMPRESSED_CHUNK_BYTES });
  const zstd = zstdFactory();
  if (zstd === undefined) throw new DecompressionStopped('zstd is not supported by this Node.js');
  return zstd({ chunkSize: DECOMPRESSED_CHUNK_BYTES });
}

const formatGiB = (bytes: number): string => (bytes >= 1024 ** 3 ? `${(bytes / 1024 ** 3).toFixed(bytes % 1024 ** 3 === 0 ? 0 : 1)} GiB` : `${bytes} bytes`);

/**
 * The decompressed archive as a ByteSource read front to back: skipping forward decompresses and
 * discards, going back is impossible (the tar reader never does). Counts every decompressed byte and
 * checks the clock at every chunk.
 */
class DecompressedSource implements ByteSource {
  readonly size = Number.MAX_SAFE_INTEGER;
  readonly streamed = true;
  private delivered = 0;
  private produced = 0;
  private chunk: Buffer | undefined;
  private chunkOffset = 0;
  private readonly startedMs: number;
  private readonly now: () => number;

  constructor(
    private readonly chunks: AsyncIterator<Buffer>,
    private readonly format: CompressionFormat,
    private readonly limits: DecompressionLimits,
  ) {
    this.now = limits.now ?? (() => performance.now());
    this.startedMs = this.now();
  }

  /** Decompressed bytes produced so far. */
  get producedBytes(): number {
    return this.produced;
  }

  async read(buffer: Uint8Array, offset: number, length: number, position: number): Promise<number> {
    if (position < this.delivered) throw new Error(`a ${this.format} stream cannot be read backwards (offset ${position} after ${this.delivered})`);
    while (this.delivered < position) {
      const chunk = await this.current();
      if (chunk === undefined) return 0;
      const skip = Math.min(chunk.length - this.chunkOffset, position - this.delivered);
      this.chunkOffset += skip;
      this.delivered += skip;
    }
    let copied = 0;
    while (copied < length) {
      const chunk = await this.current();
      if (chunk === undefined) break;
      const count = Math.min(chunk.length - this.chunkOffset, length - copied);
      buffer.set(chunk.subarray(this.chunkOffset, this.chunkOffset + count), offset + copied);
      this.chunkOffset += count;
      this.delivered += count;
      copied += count;
    }
    return copied;
  }

  private async current(): Promise<Buffer | undefined> {
    if (this.chunk !== undefined && this.chunkOffset < this.chunk.length) return this.chunk;
    const elapsed = this.now() - this.startedMs;
    if (elapsed > this.limits.maxMs) {
      throw new DecompressionStopped(`reading the ${this.format} stream took longer than ${Math.round(this.limits.maxMs / 1000)} s (stopped after ${formatGiB(this.produced)} decompressed)`);
    }
    const next = await this.chunks.next();
    if (next.done === true) {
      this.chunk = undefined;
      return undefined;
    }
    this.produced += next.value.length;
    if (this.produced > this.limits.maxBytes) {
      throw new DecompressionStopped(`the ${this.format} stream decompresses to more than ${formatGiB(this.limits.maxBytes)}`);
    }
    this.chunk = next.value;
    this.chunkOffset = 0;
    return this.chunk;
  }
}

/** Resolves once the writable side can take more, or the stream is gone. */
function drained(stream: Transform): Promise<void> {
  return new Promise((resolve) => {
    if (stream.destroyed) {
      resolve();
      return;
    }
    const done = (): void => {
      stream.off('drain', done);
      stream.off('close', done);
      resolve();
    };
    stream.on('drain', done);
    stream.on('close', done);
  });
}

/** zlib's errors carry a Z_* (or ZSTD_*) code (checked by shape: errors may come from another realm, as under a test VM). */
function zlibErrorMessage(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const { code, message } = error as { code?: unknown; message?: unknown };
  return typeof code === 'string' && (code.startsWith('Z_') || code.startsWith('ZSTD_')) ? String(message) : undefined;
}

/**
 * Runs `use` on the decompressed content of `source`. A bound reached or a corrupt stream becomes a
 * failure naming it; an I/O error is rethrown for the caller to classify (it may be transient). When
 * `use` returns, decompression stops and no read of `source` is still in flight, so the caller may
 * close the file.
 */
export async function withDecompressedSource<R extends Result<unknown>>(
  source: ByteSource,
  format: CompressionFormat,
  limits: DecompressionLimits,
  use: (decompressed: ByteSource) => Promise<R>,
): Promise<R | { readonly ok: false; readonly reason: string }> {
  let inflater: Transform;
  try {
    inflater = createDecompressor(format);
  } catch (error) {
    return { ok: false, reason: messageOf(error) };
  }
  let stopped = false;
  // Every read of the file happens in this loop, so awaiting it is enough to know none is in flight.
  const feeding = (async () => {
    let position = 0;
    // A corrupt stream destroys the decompressor: nothing more to feed.
    while (!stopped && !inflater.destroyed && position < source.size) {
      const buffer = Buffer.allocUnsafe(Math.min(COMPRESSED_CHUNK_BYTES, source.size - position));
      const count = await source.read(buffer, 0, buffer.length, position);
      // A file that shrank: the decompressor reports the stream as cut short.
      if (count <= 0 || stopped || inflater.destroyed) break;
      position += count;
      if (!inflater.write(buffer.subarray(0, count))) await drained(inflater);
    }
    if (!stopped && !inflater.destroyed) inflater.end();
  })().catch((error: unknown) => {
    inflater.destroy(error instanceof Error ? error : new Error(String(error)));
  });
  const chunks = inflater[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  const decompressed = new DecompressedSource(chunks, format, limits);
  try {
    return await use(decompressed);
  } catch (error) {
    if (error instanceof DecompressionStopped) return { ok: false, reason: error.message };
    const corrupt = zlibErrorMessage(error);
    if (corrupt !== undefined) return { ok: false, reason: `corrupt ${format} stream: ${corrupt}` };
    throw error;
  } finally {
    stopped = true;
    inflater.destroy();
    await feeding;
  }
}
