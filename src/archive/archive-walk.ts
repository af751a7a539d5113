import { prefetchedByteSource, type ByteSource } from './byte-source.js';
import { sniffEncoding, withDecompressedSource, type DecompressionLimits } from './compressed.js';
import { createContentTally } from './contents.js';
import { HEADER_WINDOW_BYTES, requestEntries, walkTar, type RequestedEntry, type TarEntry } from './tar-reader.js';
import type { ArchiveContents, CompressionFormat, Result } from './types.js';

/**
 * One pass over an archive's headers, plain or compressed: the bodies asked for, the composition and
 * the restore entries, and (for `inspect`) every entry. A plain tar is read by seeking, so its cost
 * does not grow with its size; the first read both tells the format and serves as the header window.
 */

export interface WalkRequest {
  /** Entries whose bodies are read, each at most `maxBodyBytes`. */
  readonly bodies: readonly string[];
  readonly maxBodyBytes: number;
  /** Keep every entry (headers only) in the result. */
  readonly listEntries?: boolean;
  /**
   * A compressed archive is decompressed within these limits, or with `defer` not read at all: the
   * result is then a CompressedDeferral, so the caller can queue it behind other compressed reads.
   */
  readonly compressed: DecompressionLimits | 'defer';
}

export interface ArchiveWalk {
  readonly bodies: ReadonlyMap<string, RequestedEntry>;
  readonly contents: ArchiveContents;
  /** Every entry in archive order; empty unless `listEntries`. */
  readonly entries: readonly TarEntry[];
}

/** A compressed archive left unread, as asked: read it again with limits, one at a time. */
export interface CompressedDeferral {
  readonly ok: false;
  readonly reason: string;
  readonly deferred: CompressionFormat;
}

export type WalkOutcome = Result<ArchiveWalk> | CompressedDeferral;

export function isCompressedDeferral(value: { readonly ok: boolean }): value is CompressedDeferral {
  return !value.ok && 'deferred' in value;
}

async function readHead(source: ByteSource): Promise<Result<Uint8Array>> {
  const head = new Uint8Array(Math.min(HEADER_WINDOW_BYTES, source.size));
  let filled = 0;
  while (filled < head.length) {
    const count = await source.read(head, filled, head.length - filled, filled);
    if (count <= 0) return { ok: false, reason: `truncated archive: file ended at offset ${filled}` };
    filled += count;
  }
  return { ok: true, value: head };
}

async function walkTarContent(tar: ByteSource, fileSize: number, request: WalkRequest, compression: CompressionFormat | undefined): Promise<Result<ArchiveWalk>> {
  const tally = createContentTally();
  const requested = requestEntries(request.bodies, request.maxBodyBytes);
  const entries: TarEntry[] = [];
  let failure: string | undefined;
  const walked = await walkTar(tar, async (entry, readBody) => {
    tally.add(entry);
    if (request.listEntries === true) entries.push(entry);
    failure = await requested.offer(entry, readBody);
    return failure === undefined;
  });
  if (!walked.ok) return { ok: false, reason: `unreadable tar: ${walked.reason}` };
  if (failure !== undefined) return { ok: false, reason: `unreadable tar: ${failure}` };
  const contents = tally.finish(fileSize, compression, compression === undefined ? undefined : walked.value.end);
  return { ok: true, value: { bodies: requested.outcomes, contents, entries } };
}

/** Walks the archive in `source` (plain tar, or gzip/zstd by content, whatever its name). */
export async function walkArchive(source: ByteSource, request: WalkRequest): Promise<WalkOutcome> {
  const head = await readHead(source);
  if (!head.ok) return { ok: false, reason: `unreadable tar: ${head.reason}` };
  const encoding = sniffEncoding(head.value);
  const tar = prefetchedByteSource(source, head.value);
  switch (encoding.kind) {
    case 'tar':
      return walkTarContent(tar, source.size, request, undefined);
    case 'unsupported':
      return { ok: false, reason: encoding.reason };
    case 'compressed': {
      const { format } = encoding;
      if (request.compressed === 'defer') return { ok: false, reason: `${format}-compressed archive, read separately`, deferred: format };
      const read = await withDecompressedSource(tar, format, request.compressed, (decompressed) => walkTarContent(decompressed, source.size, request, format));
      return read.ok ? read : { ok: false, reason: `${format}-compressed archive: ${read.reason}` };
    }
  }
}
