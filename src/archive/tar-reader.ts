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

export type TarEntryType = 'file' | 'directory' | 'symlink' | 'hardlink' | 'other';

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
    default:
      return 'other';
  }
}

/** Types whose size field does not announce a body (as in POSIX and Go's archive/tar). */
const HEADER_ONLY_TYPEFLAGS = new Set(['1', '2', '3', '4', '5', '6']);

function paddedLength(size: number): number {
  return Math.ceil(size / BLOCK_SIZE) * BLOCK_SIZE;
}

/** Reads bytes through a cached window so consecutive small headers share one read. */
class WindowedReader {
  private windowStart = 0;
  private window: Uint8Array = new Uint8Array(0);

  constructor(private readonly source: ByteSource) {}

  async bytesAt(position: number, length: number): Promise<Result<Uint8Array>> {
    if (position + length > this.source.size) {
      return { ok: false, reason: `truncated archive: needs ${length} bytes at offset ${position}, file is ${this.source.size} bytes` };
    }
    const inWindow = position >= this.windowStart && position + length <= this.windowStart + this.window.length;
    if (!inWindow) {
      const span = Math.max(length, Math.min(HEADER_WINDOW_BYTES, this.source.size - position));
      const filled = await this.readFully(position, span);
      if (!filled.ok) return filled;
      this.windowStart = position;
      this.window = filled.value;
    }
    const start = position - this.windowStart;
    return { ok: true, value: this.window.subarray(start, start + length) };
  }

  private async readFully(position: number, length: number): Promise<Result<Uint8Array>> {
    const buffer = new Uint8Array(length);
    let filled = 0;
    while (filled < length) {
      const count = await this.source.read(buffer, filled, length - filled, position + filled);
      // The file shrank after it was opened: treat as truncated rather than spin.
      if (count <= 0) return { ok: false, reason: `truncated archive: file ended at offset ${position + filled}` };
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
 * Walks the headers of a tar archive, seeking over every body. Only GNU long-name and PAX metadata
 * bodies are read here (bounded); entry bodies only when the visitor asks for one.
 */
export async function walkTar(
  source: ByteSource,
  visit: TarVisitor,
  limits: TarWalkLimits = {},
): Promise<Result<{ readonly headers: number }>> {
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
      return { ok: true, value: { headers } };
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
    const bodySize = HEADER_ONLY_TYPEFLAGS.has(header.typeflag) ? 0 : size;
    if (bodyOffset + bodySize > source.size) {
      return { ok: false, reason: `entry at offset ${position} claims ${bodySize} bytes, beyond the end of the ${source.size}-byte file` };
    }

    if (header.typeflag === 'L' || header.typeflag === 'K' || header.typeflag === 'x') {
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
        pending.pax = { ...pending.pax, ...pax.value };
      }
    } else if (header.typeflag !== 'g') {
      // Global PAX headers ('g') set defaults such as charset or times; nothing in them moves bytes.
      const rawName = pending.pax?.path ?? pending.longName ?? header.name;
      const entry: TarEntry = {
        name: normalizeEntryName(rawName),
        type: typeOf(header.typeflag, rawName),
        typeflag: header.typeflag,
        size: bodySize,
        offset: bodyOffset,
        linkName: pending.pax?.linkPath ?? pending.longLinkName ?? header.linkName,
      };
      pending = {};
      const keepGoing = await visit(entry, () => reader.bytesAt(entry.offset, entry.size));
      if (keepGoing === false) return { ok: true, value: { headers } };
    }
    position = bodyOffset + paddedLength(bodySize);
  }
}

/**
 * The first zero block ends the archive. GNU tar stops there too, so anything after it is invisible to
 * every tool; a non-zero block right after it is refused rather than guessed at.
 */
async function checkEndOfArchive(reader: WindowedReader, source: ByteSource, position: number): Promise<Result<void>> {
  const next = position + BLOCK_SIZE;
  if (next + BLOCK_SIZE > source.size) return { ok: true, value: undefined };
  const block = await reader.bytesAt(next, BLOCK_SIZE);
  if (!block.ok) return block;
  if (!isZeroBlock(block.value)) return { ok: false, reason: `lone zero block at offset ${position} followed by data` };
  return { ok: true, value: undefined };
}

/** Headers only: every entry with its size and body offset. */
export async function listTarEntries(source: ByteSource, limits: TarWalkLimits = {}): Promise<Result<TarEntry[]>> {
  const entries: TarEntry[] = [];
  const walked = await walkTar(
    source,
    (entry) => {
      entries.push(entry);
    },
    limits,
  );
  return walked.ok ? { ok: true, value: entries } : walked;
}

/**
 * Reads the bodies of the named regular-file entries (each at most `maxBytes`) and nothing else.
 * Every header is walked, so a duplicate of a requested name is noticed.
 */
export async function readTarEntries(
  source: ByteSource,
  names: readonly string[],
  maxBytes: number,
  limits: TarWalkLimits = {},
): Promise<Result<ReadonlyMap<string, RequestedEntry>>> {
  const outcomes = new Map<string, RequestedEntry>(names.map((name) => [name, { status: 'missing' }]));
  let failure: string | undefined;
  const walked = await walkTar(source, async (entry, readBody) => {
    const previous = outcomes.get(entry.name);
    if (previous === undefined) return true;
    if (previous.status !== 'missing') {
      outcomes.set(entry.name, { status: 'duplicate' });
      return true;
    }
    if (entry.type !== 'file') {
      outcomes.set(entry.name, { status: 'not-regular', type: entry.type, typeflag: entry.typeflag });
    } else if (entry.size > maxBytes) {
      outcomes.set(entry.name, { status: 'too-large', size: entry.size, limit: maxBytes });
    } else {
      const body = await readBody();
      if (!body.ok) {
        failure = body.reason;
        return false;
      }
      outcomes.set(entry.name, { status: 'read', bytes: body.value });
    }
    return true;
  }, limits);
  if (!walked.ok) return walked;
  if (failure !== undefined) return { ok: false, reason: failure };
  return { ok: true, value: outcomes };
}
