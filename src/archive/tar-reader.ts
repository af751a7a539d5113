import type { ByteSource } from './byte-source.js';
import {
  BLOCK_SIZE,
  GNU_SPARSE_EXTENSION_IS_EXTENDED,
  decodeHeader,
  decodeLongName,
  isZeroBlock,
  parsePaxRecords,
  type PaxOverrides,
} from './tar-header.js';
import type { Result } from './types.js';

/**
 * Headers are read through a window this big, so a run of small entries (config.dump, spec.dump,
 * the small CRIU image files) costs one read, while a large entry body is skipped by seeking.
 */
export const HEADER_WINDOW_BYTES = 64 * 1024;

/**
 * A checkpoint holds a few dozen to a few thousand entries (CRIU writes a handful of image files per
 * process). The cap stops a hostile archive of millions of empty entries from keeping us busy.
 */
export const MAX_TAR_HEADERS = 100_000;

/** GNU long names and PAX headers carry paths; PATH_MAX is 4096, so anything far beyond is hostile. */
export const MAX_METADATA_BODY_BYTES = 64 * 1024;

/**
 * `sparse`: a regular file stored in a GNU sparse form (typeflag 'S', or PAX GNU.sparse.* records). Its
 * body is the data islands without the holes (for PAX sparse 1.0 preceded by the map), so it is never
 * read as the file's content; its size is those stored bytes, not the file's apparent size.
 */
export type TarEntryType = 'file' | 'sparse' | 'directory' | 'symlink' | 'hardlink' | 'other';

export interface TarEntry {
  /** Path inside the archive with a leading `./` and a trailing `/` dropped. */
  readonly name: string;
  readonly type: TarEntryType;
  /** The tar typeflag character ('0', '5', ...; '\0' for old regular files). */
  readonly typeflag: string;
  readonly size: number;
  /** Byte offset of the entry body in the archive. */
  readonly offset: number;
  /** Target of a symlink or hard link; empty otherwise. */
  readonly linkName: string;
}

/** The outcome for one requested entry name. */
export type RequestedEntry =
  | { readonly status: 'read'; readonly bytes: Uint8Array }
  | { readonly status: 'missing' }
  | { readonly status: 'not-regular'; readonly type: TarEntryType; readonly typeflag: string }
  | { readonly status: 'too-large'; readonly size: number; readonly limit: number }
  /** Tar lets a later copy win silently; two copies of an identity file is a reason for doubt. */
  | { readonly status: 'duplicate' };

/**
 * Called once per entry. `readBody` reads that entry's body (through the header window when it is
 * already there); not calling it means the body is never touched. Return false to stop early.
 */
export type TarVisitor = (
  entry: TarEntry,
  readBody: () => Promise<Result<Uint8Array>>,
) => boolean | void | Promise<boolean | void>;

/** What a walk saw: the headers counted, and where the archive's bytes end (undefined when the visitor stopped early). */
export interface TarWalk {
  readonly headers: number;
  /** Offset just past the end-of-archive marker. */
  readonly end: number | undefined;
}

export interface TarWalkLimits {
  /** Defaults to MAX_TAR_HEADERS. */
  readonly maxHeaders?: number;
}

/** Strip one leading `./` and a trailing `/` so `./spec.dump` matches `spec.dump` and `x/` names the directory `x`. */
export function normalizeEntryName(name: string): string {
  let normalized = name.startsWith('./') ? name.slice(2) : name;
  while (normalized.endsWith('/')) normalized = normalized.slice(0, -1);
  return normalized;
}

function typeOf(typeflag: string, rawName: string): TarEntryType {
  switch (typeflag) {
    case '0':
    case '\0':
      // Pre-POSIX tar marked directories only by a trailing slash on a regular-file header.
      return rawName.endsWith('/') ? 'directory' : 'file';
    case '1':
      return 'hardlink';
    case '2':
      return 'symlink';
    case '5':
      return 'directory';
    case 'S':
      return 'sparse';
    default:
      return 'other';
  }
}

/** Types whose size field does not announce a body (as in POSIX and Go's archive/tar). */
const HEADER_ONLY_TYPEFLAGS = new Set(['1', '2', '3', '4', '5', '6']);
/**
 * Of those, the ones GNU tar reads a body after when their size field is not zero (a symlink, device or
 * FIFO), where Go's archive/tar, libarchive and Python do not: such an archive shows different entries to
 * different readers, so it is refused rather than read one way. No writer sets that size (POSIX says 0).
 */
const DISPUTED_BODY_TYPEFLAGS = new Set(['2', '3', '4', '6']);

function paddedLength(size: number): number {
  return Math.ceil(size / BLOCK_SIZE) * BLOCK_SIZE;
}

/** Reads bytes through a cached window so consecutive small headers share one read. */
class WindowedReader {
  private windowStart = 0;
  private window: Uint8Array = new Uint8Array(0);

  constructor(private readonly source: ByteSource) {}

  /**
   * `length` bytes at `position`. With `orEnd`, a streamed source that ends before them yields an empty
   * array instead of an error (used where the end of the stream is an acceptable answer).
   */
  async bytesAt(position: number, length: number, orEnd = false): Promise<Result<Uint8Array>> {
    if (position + length > this.source.size) {
      return { ok: false, reason: `truncated archive: needs ${length} bytes at offset ${position}, file is ${this.source.size} bytes` };
    }
    const windowEnd = this.windowStart + this.window.length;
    const inWindow = position >= this.windowStart && position + length <= windowEnd;
    if (!inWindow) {
      const span = Math.max(length, Math.min(HEADER_WINDOW_BYTES, this.source.size - position));
      const next = new Uint8Array(span);
      // The part already in the window is kept, not read again: a decompressed stream cannot go back.
      const kept = position >= this.windowStart && position < windowEnd ? windowEnd - position : 0;
      if (kept > 0) next.set(this.window.subarray(position - this.windowStart), 0);
      const filled = await this.readInto(next, kept, position + kept, orEnd ? 0 : length);
      if (!filled.ok) return filled;
      this.windowStart = position;
      this.window = filled.value;
      if (filled.value.length < length) return { ok: true, value: new Uint8Array(0) };
    }
    const start = position - this.windowStart;
    return { ok: true, value: this.window.subarray(start, start + length) };
  }

  /**
   * Fills `buffer` from `from` on, reading at `position`. A streamed source (size unknown) may end
   * early: what it gave is enough once `required` bytes are there.
   */
  private async readInto(buffer: Uint8Array, from: number, position: number, required: number): Promise<Result<Uint8Array>> {
    let filled = from;
    while (filled < buffer.length) {
      const count = await this.source.read(buffer, filled, buffer.length - filled, position + filled - from);
      if (count <= 0) {
        if (this.source.streamed === true && filled >= required) return { ok: true, value: buffer.subarray(0, filled) };
        // The file shrank after it was opened: treat as truncated rather than spin.
        return { ok: false, reason: `truncated archive: ${this.source.streamed === true ? 'stream' : 'file'} ended at offset ${position + filled - from}` };
      }
      filled += count;
    }
    return { ok: true, value: buffer };
  }
}

interface PendingMetadata {
  longName?: string;
  longLinkName?: string;
  pax?: PaxOverrides;
}

/**
 * Two name-bearing metadata headers for one entry: GNU tar and bsdtar let the later GNU long name win,
 * Python's tarfile the earlier; GNU tar lets a PAX header after a long name win, bsdtar and Python the
 * long name; of two PAX headers GNU tar keeps the second alone, Python the first, bsdtar fails. No
 * writer makes such an entry (one long name and one long link name together are normal), so it is refused.
 */
function metadataConflict(typeflag: 'L' | 'K' | 'x', pending: PendingMetadata): string | undefined {
  switch (typeflag) {
    case 'L':
      if (pending.longName !== undefined) return 'a second GNU long name for one entry';
      return pending.pax === undefined ? undefined : 'a GNU long name after a PAX header';
    case 'K':
      if (pending.longLinkName !== undefined) return 'a second GNU long link name for one entry';
      return pending.pax === undefined ? undefined : 'a GNU long link name after a PAX header';
    case 'x':
      if (pending.pax !== undefined) return 'a second PAX header for one entry';
      return pending.longName === undefined && pending.longLinkName === undefined ? undefined : 'a PAX header after a GNU long name';
  }
}

/**
 * Walks the headers of a tar archive, seeking over every body. Only GNU long-name and PAX metadata
 * bodies are read here (bounded); entry bodies only when the visitor asks for one.
 */
export async function walkTar(
  source: ByteSource,
  visit: TarVisitor,
  limits: TarWalkLimits = {},
): Promise<Result<TarWalk>> {
  const maxHeaders = limits.maxHeaders ?? MAX_TAR_HEADERS;
  const reader = new WindowedReader(source);
  let position = 0;
  let headers = 0;
  let pending: PendingMetadata = {};
  for (;;) {
    if (position === source.size) return { ok: false, reason: `truncated archive: no end-of-archive marker before offset ${position}` };
    const block = await reader.bytesAt(position, BLOCK_SIZE);
    if (!block.ok) return block;
    if (isZeroBlock(block.value)) {
      const end = await checkEndOfArchive(reader, source, position);
      if (!end.ok) return end;
      if (pending.longName !== undefined || pending.longLinkName !== undefined || pending.pax !== undefined) {
        return { ok: false, reason: 'archive ends after a metadata header with no entry' };
      }
      return { ok: true, value: { headers, end: end.value } };
    }
    headers += 1;
    if (headers > maxHeaders) return { ok: false, reason: `more than ${maxHeaders} tar headers` };
    const decoded = decodeHeader(block.value);
    if (!decoded.ok) return { ok: false, reason: `invalid tar header at offset ${position}: ${decoded.reason}` };
    const header = decoded.value;
    let bodyOffset = position + BLOCK_SIZE;

    if (header.sparseExtended) {
      for (let more = true; more; ) {
        const extension = await reader.bytesAt(bodyOffset, BLOCK_SIZE);
        if (!extension.ok) return extension;
        more = extension.value[GNU_SPARSE_EXTENSION_IS_EXTENDED] !== 0;
        bodyOffset += BLOCK_SIZE;
        headers += 1;
        if (headers > maxHeaders) return { ok: false, reason: `more than ${maxHeaders} tar headers` };
      }
    }

    const isMetadata = header.typeflag === 'L' || header.typeflag === 'K' || header.typeflag === 'x' || header.typeflag === 'g';
    const size = !isMetadata && pending.pax?.size !== undefined ? pending.pax.size : header.size;
    if (size > 0 && DISPUTED_BODY_TYPEFLAGS.has(header.typeflag)) {
      return { ok: false, reason: `entry at offset ${position} (typeflag ${header.typeflag}) has a size of ${size} bytes: tar readers disagree on whether a body follows` };
    }
    const bodySize = HEADER_ONLY_TYPEFLAGS.has(header.typeflag) ? 0 : size;
    if (bodyOffset + bodySize > source.size) {
      return { ok: false, reason: `entry at offset ${position} claims ${bodySize} bytes, beyond the end of the ${source.size}-byte file` };
    }

    if (header.typeflag === 'L' || header.typeflag === 'K' || header.typeflag === 'x') {
      const conflict = metadataConflict(header.typeflag, pending);
      if (conflict !== undefined) return { ok: false, reason: `${conflict} at offset ${position}: tar readers disagree on which one applies` };
      if (bodySize > MAX_METADATA_BODY_BYTES) {
        return { ok: false, reason: `metadata entry at offset ${position} is ${bodySize} bytes (limit ${MAX_METADATA_BODY_BYTES})` };
      }
      const body = await reader.bytesAt(bodyOffset, bodySize);
      if (!body.ok) return body;
      if (header.typeflag === 'L') pending.longName = decodeLongName(body.value);
      else if (header.typeflag === 'K') pending.longLinkName = decodeLongName(body.value);
      else {
        const pax = parsePaxRecords(body.value);
        if (!pax.ok) return { ok: false, reason: `PAX header at offset ${position}: ${pax.reason}` };
        pending.pax = pax.value;
      }
    } else if (header.typeflag !== 'g') {
      // Global PAX headers ('g') set defaults such as charset or times; nothing in them moves bytes.
      const rawName = pending.pax?.sparseName ?? pending.pax?.path ?? pending.longName ?? header.name;
      const type = typeOf(header.typeflag, rawName);
      const entry: TarEntry = {
        name: normalizeEntryName(rawName),
        type: type === 'file' && pending.pax?.sparse === true ? 'sparse' : type,
        typeflag: header.typeflag,
        size: bodySize,
        offset: bodyOffset,
        linkName: pending.pax?.linkPath ?? pending.longLinkName ?? header.linkName,
      };
      pending = {};
      const keepGoing = await visit(entry, () => reader.bytesAt(entry.offset, entry.size));
      if (keepGoing === false) return { ok: true, value: { headers, end: undefined } };
    }
    position = bodyOffset + paddedLength(bodySize);
  }
}

/**
 * The first zero block ends the archive. GNU tar stops there too, so anything after it is invisible to
 * every tool; a non-zero block right after it is refused rather than guessed at. Resolves to the offset
 * just past the end-of-archive marker.
 */
async function checkEndOfArchive(reader: WindowedReader, source: ByteSource, position: number): Promise<Result<number>> {
  const next = position + BLOCK_SIZE;
  if (next + BLOCK_SIZE > source.size) return { ok: true, value: next };
  const block = await reader.bytesAt(next, BLOCK_SIZE, source.streamed === true);
  if (!block.ok) return block;
  // A stream may end after a single zero block, as a file may.
  if (block.value.length === 0) return { ok: true, value: next };
  if (!isZeroBlock(block.value)) return { ok: false, reason: `lone zero block at offset ${position} followed by data` };
  return { ok: true, value: next + BLOCK_SIZE };
}

/**
 * Collects the bodies of the named regular-file entries (each at most `maxBytes`) during a walk.
 * `offer` returns a failure reason when a body could not be read, which ends the walk.
 */
export interface RequestedEntries {
  offer(entry: TarEntry, readBody: () => Promise<Result<Uint8Array>>): Promise<string | undefined>;
  readonly outcomes: ReadonlyMap<string, RequestedEntry>;
}

export function requestEntries(names: readonly string[], maxBytes: number): RequestedEntries {
  const outcomes = new Map<string, RequestedEntry>(names.map((name) => [name, { status: 'missing' }]));
  return {
    outcomes,
    async offer(entry, readBody) {
      const previous = outcomes.get(entry.name);
      if (previous === undefined) return undefined;
      if (previous.status !== 'missing') {
        outcomes.set(entry.name, { status: 'duplicate' });
        return undefined;
      }
      if (entry.type !== 'file') {
        outcomes.set(entry.name, { status: 'not-regular', type: entry.type, typeflag: entry.typeflag });
      } else if (entry.size > maxBytes) {
        outcomes.set(entry.name, { status: 'too-large', size: entry.size, limit: maxBytes });
      } else {
        const body = await readBody();
        if (!body.ok) return body.reason;
        outcomes.set(entry.name, { status: 'read', bytes: body.value });
      }
      return undefined;
    },
  };
}
