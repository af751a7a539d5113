import { createHash } from 'node:crypto';
import { RESTORE_ENTRIES } from '../archive/contents.js';
import type { IdentityReadResult } from '../archive/identity.js';
import { CONTENT_PARTS, type ArchiveContents, type IdentitySource } from '../archive/types.js';

/**
 * The persisted index (`--state-dir`): what was learned about each archive of one checkpoint
 * directory, so a restart does not read every archive's headers again. The file is
 *
 *   line 1  the format line (MAGIC): another version is another line, and is not read
 *   line 2  a JSON header: the directory's path, device and inode, the record count, the body's length and SHA-256
 *   body    one JSON array per archive: [fileName, dev, ino, size, mtimeMs, ctimeMs, nlink, result]
 *
 * It fails closed: a file that is too large, from another version or another directory, or whose body
 * does not match its checksum (a torn write, truncation, a flipped byte) is not used at all, and a
 * record that does not parse is dropped. Either way the archive is read again: a damaged index costs
 * time, never a wrong identity. A record only ever speaks for the exact file it names (same name,
 * device, inode, size, mtime, ctime and link count), so even a well-formed record under the wrong
 * line cannot be taken for another archive.
 */
export const INDEX_MAGIC = 'checkpoint-exporter archive index v1';

/**
 * A record is about 400 bytes (a name, seven numbers, an identity and its composition); 4 KiB leaves
 * room for long names and reasons while bounding what a load may allocate: the file is refused above
 * this much per directory entry (plus the header), before it is read.
 */
export const MAX_RECORD_BYTES = 4_096;
export const MAX_HEADER_BYTES = 4_096;
/** Strings in a record (a reason, a name) beyond this are refused: the reader's own are far shorter. */
const MAX_TEXT = 1_024;

/** The exact file a record speaks for: lstat's device, inode, size, mtime, ctime and link count. */
export interface IndexedFile {
  readonly dev: number;
  readonly ino: number;
  readonly size: number;
  readonly mtimeMs: number;
  readonly ctimeMs: number;
  readonly nlink: number;
}

export interface IndexEntry {
  readonly file: IndexedFile;
  /** The identity reader's final result for these bytes (never a transient or `changed` failure). */
  readonly result: IdentityReadResult;
}

/** The directory an index belongs to: its path as given and the device and inode it led to. */
export interface IndexedDirectory {
  readonly directory: string;
  readonly dev: number;
  readonly ino: number;
}

interface Header extends IndexedDirectory {
  readonly entries: number;
  readonly bodyBytes: number;
  readonly sha256: string;
}

export function sameIndexedFile(a: IndexedFile, b: IndexedFile): boolean {
  return a.dev === b.dev && a.ino === b.ino && a.size === b.size && a.mtimeMs === b.mtimeMs && a.ctimeMs === b.ctimeMs && a.nlink === b.nlink;
}

/** Lines are gathered into pieces of about this size: the body is never one string or one buffer. */
const CHUNK_BYTES = 1 << 20;

/**
 * The body's lines for these entries, gathered into pieces of about 1 MiB, each made as it is asked
 * for: serializing 100,000 records never holds more than one piece (nor any per-record object or
 * string beyond the one being written).
 */
export function* indexBodyChunks(entries: Iterable<readonly [string, IndexEntry]>): Generator<Buffer> {
  let pending: string[] = [];
  let pendingLength = 0;
  for (const [fileName, { file, result }] of entries) {
    const line = `${JSON.stringify([fileName, file.dev, file.ino, file.size, file.mtimeMs, file.ctimeMs, file.nlink, result])}\n`;
    pending.push(line);
    pendingLength += line.length;
    if (pendingLength >= CHUNK_BYTES) {
      yield Buffer.from(pending.join(''), 'utf8');
      pending = [];
      pendingLength = 0;
    }
  }
  if (pending.length > 0) yield Buffer.from(pending.join(''), 'utf8');
}

/**
 * The header line (the file's second) for these entries: the directory, the record count and the
 * body's length and SHA-256, from one pass over the body's pieces, none kept. Equal headers, equal
 * files: a writer compares it with the last one before writing anything.
 */
export function indexHeaderOf(directory: IndexedDirectory, entries: Iterable<readonly [string, IndexEntry]>): string {
  const hash = createHash('sha256');
  let bodyBytes = 0;
  let count = 0;
  function* counted(): Generator<readonly [string, IndexEntry]> {
    for (const entry of entries) {
      count += 1;
      yield entry;
    }
  }
  for (const chunk of indexBodyChunks(counted())) {
    hash.update(chunk);
    bodyBytes += chunk.length;
  }
  const header: Header = { directory: directory.directory, dev: directory.dev, ino: directory.ino, entries: count, bodyBytes, sha256: hash.digest('hex') };
  return JSON.stringify(header);
}

/** The first two lines of an index file whose header line is this. */
export const indexHead = (header: string): Buffer => Buffer.from(`${INDEX_MAGIC}\n${header}\n`, 'utf8');

/** The file's bytes for these entries, in the order given (entries is read twice). */
export function serializeIndex(directory: IndexedDirectory, entries: Iterable<readonly [string, IndexEntry]>): Buffer {
  return Buffer.concat([indexHead(indexHeaderOf(directory, entries)), ...indexBodyChunks(entries)]);
}

/** The largest file a load accepts for a directory of this many entries. */
export function maxIndexBytes(directoryEntries: number): number {
  return MAX_HEADER_BYTES + INDEX_MAGIC.length + 1 + MAX_RECORD_BYTES * directoryEntries;
}

export type ParsedIndex =
  | { readonly ok: true; readonly entries: Map<string, IndexEntry>; readonly droppedRecords: number }
  | { readonly ok: false; readonly reason: string };

/** Reads an index file's bytes for this directory; anything doubtful is left out (see the module comment). */
export function parseIndex(bytes: Buffer, expected: IndexedDirectory): ParsedIndex {
  const magicEnd = bytes.indexOf(0x0a);
  if (magicEnd < 0 || bytes.toString('utf8', 0, magicEnd) !== INDEX_MAGIC) return { ok: false, reason: 'not an archive index of this version' };
  const headerEnd = bytes.indexOf(0x0a, magicEnd + 1);
  if (headerEnd < 0 || headerEnd - magicEnd - 1 > MAX_HEADER_BYTES) return { ok: false, reason: 'the header is missing or too long' };
  const header = headerOf(bytes.toString('utf8', magicEnd + 1, headerEnd));
  if (header === undefined) return { ok: false, reason: 'the header does not parse' };
  if (header.directory !== expected.directory || header.dev !== expected.dev || header.ino !== expected.ino) {
    return { ok: false, reason: `the index is of another directory (${header.directory}, device ${header.dev}, inode ${header.ino})` };
  }
  const body = bytes.subarray(headerEnd + 1);
  if (body.length !== header.bodyBytes) return { ok: false, reason: `the body is ${body.length} bytes, the header says ${header.bodyBytes} (truncated or torn)` };
  if (createHash('sha256').update(body).digest('hex') !== header.sha256) return { ok: false, reason: 'the body does not match its checksum' };
  if (body.length > 0 && body[body.length - 1] !== 0x0a) return { ok: false, reason: 'the body does not end with a newline' };
  let lineCount = 0;
  for (let at = body.indexOf(0x0a); at >= 0; at = body.indexOf(0x0a, at + 1)) lineCount += 1;
  if (lineCount !== header.entries) return { ok: false, reason: `${lineCount} records, the header says ${header.entries}` };
  const entries = new Map<string, IndexEntry>();
  const duplicated = new Set<string>();
  let droppedRecords = 0;
  // Line by line from the bytes: the body is never decoded into one string.
  for (let start = 0, end = body.indexOf(0x0a); end >= 0; start = end + 1, end = body.indexOf(0x0a, start)) {
    const record = end - start > MAX_RECORD_BYTES ? undefined : recordOf(body.toString('utf8', start, end));
    if (record === undefined) {
      droppedRecords += 1;
      continue;
    }
    const [fileName, entry] = record;
    if (entries.has(fileName) || duplicated.has(fileName)) {
      // Two records for one name: neither can be trusted.
      if (entries.delete(fileName)) droppedRecords += 1;
      duplicated.add(fileName);
      droppedRecords += 1;
      continue;
    }
    entries.set(fileName, entry);
  }
  return { ok: true, entries, droppedRecords };
}

type Json = unknown;
const isObject = (value: Json): value is Record<string, Json> => typeof value === 'object' && value !== null && !Array.isArray(value);
const isCount = (value: Json): value is number => typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
const isTime = (value: Json): value is number => typeof value === 'number' && Number.isFinite(value);
const isText = (value: Json): value is string => typeof value === 'string' && value.length > 0 && value.length <= MAX_TEXT;
const hasOnly = (value: Record<string, Json>, keys: readonly string[]): boolean => Object.keys(value).every((key) => keys.includes(key));

function parseJson(text: string): Json {
  try {
    return JSON.parse(text) as Json;
  } catch {
    return undefined;
  }
}

function headerOf(text: string): Header | undefined {
  const value = parseJson(text);
  if (!isObject(value) || !hasOnly(value, ['directory', 'dev', 'ino', 'entries', 'bodyBytes', 'sha256'])) return undefined;
  const { directory, dev, ino, entries, bodyBytes, sha256 } = value;
  if (!isText(directory) || !isCount(dev) || !isCount(ino) || !isCount(entries) || !isCount(bodyBytes)) return undefined;
  if (typeof sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(sha256)) return undefined;
  return { directory, dev, ino, entries, bodyBytes, sha256 };
}

function recordOf(line: string): readonly [string, IndexEntry] | undefined {
  const value = parseJson(line);
  if (!Array.isArray(value) || value.length !== 8) return undefined;
  const [fileName, dev, ino, size, mtimeMs, ctimeMs, nlink, raw] = value as Json[];
  if (!isText(fileName) || fileName.includes('/') || fileName.length > 255) return undefined;
  if (!isCount(dev) || !isCount(ino) || !isCount(size) || !isTime(mtimeMs) || !isTime(ctimeMs) || !isCount(nlink) || nlink < 1) return undefined;
  const result = resultOf(raw);
  if (result === undefined) return undefined;
  return [fileName, { file: { dev, ino, size, mtimeMs, ctimeMs, nlink }, result }];
}

const SOURCES: readonly IdentitySource[] = ['cri-o', 'containerd', 'criu'];

function resultOf(value: Json): IdentityReadResult | undefined {
  if (!isObject(value)) return undefined;
  if (value['ok'] === true) {
    const inner = value['value'];
    if (!hasOnly(value, ['ok', 'value']) || !isObject(inner) || !hasOnly(inner, ['identity', 'sources', 'contents'])) return undefined;
    const identity = inner['identity'];
    if (!isObject(identity) || !hasOnly(identity, ['namespace', 'pod', 'container'])) return undefined;
    const { namespace, pod, container } = identity;
    if (!isText(namespace) || !isText(pod) || !isText(container)) return undefined;
    const sources = inner['sources'];
    if (!Array.isArray(sources) || sources.length === 0 || !sources.every((source) => SOURCES.includes(source as IdentitySource))) return undefined;
    const contents = inner['contents'] === undefined ? undefined : contentsOf(inner['contents']);
    if (inner['contents'] !== undefined && contents === undefined) return undefined;
    const identified = { identity: { namespace, pod, container }, sources: sources as IdentitySource[], ...(contents !== undefined ? { contents } : {}) };
    return { ok: true, value: identified };
  }
  if (value['ok'] === false) {
    // Only final failures are kept: a `retry` hint means the bytes may yet read otherwise.
    if (!hasOnly(value, ['ok', 'reason', 'contents']) || !isText(value['reason'])) return undefined;
    const contents = value['contents'] === undefined ? undefined : contentsOf(value['contents']);
    if (value['contents'] !== undefined && contents === undefined) return undefined;
    return { ok: false, reason: value['reason'], ...(contents !== undefined ? { contents } : {}) };
  }
  return undefined;
}

const PART_KEYS = ['memoryBytes', 'checkpointOtherBytes', 'rootfsDiffBytes', 'otherBytes'] as const;

function contentsOf(value: Json): ArchiveContents | undefined {
  if (!isObject(value) || !hasOnly(value, [...PART_KEYS, 'missing', 'compression', 'decompressedBytes'])) return undefined;
  if (PART_KEYS.length !== CONTENT_PARTS.length || !PART_KEYS.every((key) => isCount(value[key]))) return undefined;
  const missing = value['missing'];
  if (!Array.isArray(missing) || !missing.every((entry) => (RESTORE_ENTRIES as readonly string[]).includes(entry as string)) || new Set(missing).size !== missing.length) return undefined;
  const compression = value['compression'];
  if (compression !== undefined && compression !== 'gzip' && compression !== 'zstd') return undefined;
  const decompressedBytes = value['decompressedBytes'];
  if (decompressedBytes !== undefined && !isCount(decompressedBytes)) return undefined;
  return {
    memoryBytes: value['memoryBytes'] as number,
    checkpointOtherBytes: value['checkpointOtherBytes'] as number,
    rootfsDiffBytes: value['rootfsDiffBytes'] as number,
    otherBytes: value['otherBytes'] as number,
    missing: missing as string[],
    ...(compression !== undefined ? { compression } : {}),
    ...(decompressedBytes !== undefined ? { decompressedBytes } : {}),
  };
}
