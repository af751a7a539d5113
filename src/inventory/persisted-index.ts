import { createHash } from 'node:crypto';
import { mkdir, open, readdir, rename, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { IdentityReadResult } from '../archive/identity.js';
import type { FileFingerprint } from '../archive/types.js';
import { codeOf, messageOf } from '../errors.js';
import type { IdentifyArchive } from './archive-identifier.js';
import { indexBodyChunks, indexHead, indexHeaderOf, maxIndexBytes, parseIndex, sameIndexedFile, type IndexedDirectory, type IndexedFile, type IndexEntry } from './index-file.js';
import type { Inventory } from './inventory.js';
import type { ArchiveRecord } from './types.js';

/** The index's file name in the state directory. */
export const INDEX_FILE_NAME = 'archives.index';
/**
 * Changes are written at most this often: a burst of new archives is one write, and a crash loses at
 * most this much (those archives are read again at the next start).
 */
export const DEFAULT_INDEX_WRITE_DELAY_MS = 5_000;

export interface PersistedIndexCounts {
  /** Identity reads of archives (their headers read), with or without a state directory. */
  readonly reads: number;
  /** Archives whose identity came from the index, unread. */
  readonly reused: number;
  readonly writes: number;
  readonly writeFailures: number;
  /** Index files not used at all (another version or directory, a bad checksum, too large). */
  readonly rejectedFiles: number;
  /** Records left out of a loaded file (unparsable, duplicated). */
  readonly rejectedRecords: number;
}

export interface PersistedIndex {
  /** Reads the index file (before the inventory's first scan). Never throws: a bad file is logged and ignored. */
  load(): Promise<void>;
  /** The identity reader, answered from the index where a record matches the file exactly. */
  readonly identify: IdentifyArchive;
  /** Writes the index as the inventory changes, debounced. */
  follow(inventory: Inventory): void;
  /** Stops following and writes what changed (a clean stop). */
  stop(): Promise<void>;
  counts(): PersistedIndexCounts;
}

export interface PersistedIndexDeps {
  /** Where the index lives; undefined: no index (reads are still counted). */
  readonly stateDir: string | undefined;
  /** The checkpoint directory, resolved. */
  readonly directory: string;
  readonly identify: IdentifyArchive;
  readonly logger: Logger;
  readonly writeDelayMs?: number;
  readonly fileName?: string;
}

/**
 * The identity reader with a memory: archives whose name, device, inode, size, mtime, ctime and link
 * count match their record in the index are answered from it, everything else is read. ctime is in
 * the key because a writer can set mtime back but not ctime. Only final results are kept (an identity,
 * or a reason that reading the same bytes again would give): a transient failure or a file that
 * changed under the read is read again next time.
 */
export function createPersistedIndex(deps: PersistedIndexDeps): PersistedIndex {
  const { stateDir, directory, logger } = deps;
  const path = stateDir === undefined ? undefined : join(stateDir, deps.fileName ?? INDEX_FILE_NAME);
  const writeDelayMs = deps.writeDelayMs ?? DEFAULT_INDEX_WRITE_DELAY_MS;
  /** Records loaded at start and not yet matched to a file. */
  let loaded = new Map<string, IndexEntry>();
  /**
   * Archives whose last read gave a result reading again may change (a transient failure, bytes that
   * changed under the read): left out of the index. Every other settled archive's result is final and
   * belongs to the exact file its record's fingerprint describes (the reader checks it on the open file).
   */
  const notFinal = new Set<string>();
  const counts = { reads: 0, reused: 0, writes: 0, writeFailures: 0, rejectedFiles: 0, rejectedRecords: 0 };
  let inventory: Inventory | undefined;
  let directoryIdentity: { readonly dev: number; readonly ino: number } | undefined;
  let unsubscribe: (() => void) | undefined;
  let timer: NodeJS.Timeout | undefined;
  let dirty = false;
  let writing: Promise<void> | undefined;
  /** The header line last written or loaded (it carries the body's SHA-256): an unchanged index is not written again. */
  let lastHeader: string | undefined;

  async function load(): Promise<void> {
    if (path === undefined || stateDir === undefined) return;
    // Made if missing, private: the index names every archive and its identity.
    await mkdir(stateDir, { recursive: true, mode: 0o700 }).catch((error: unknown) => logger.warn({ stateDir, reason: messageOf(error) }, 'cannot make the state directory'));
    try {
      const dir = await stat(directory);
      const names = await readdir(directory);
      const handle = await open(path, 'r');
      try {
        const { size } = await handle.stat();
        const bound = maxIndexBytes(names.length);
        if (size > bound) {
          counts.rejectedFiles += 1;
          logger.warn({ path, size, bound }, 'archive index is larger than the directory can explain; not read, every archive is read again');
          return;
        }
        const bytes = Buffer.alloc(size);
        const { bytesRead } = await handle.read(bytes, 0, size, 0);
        const parsed = parseIndex(bytes.subarray(0, bytesRead), { directory, dev: dir.dev, ino: dir.ino });
        if (!parsed.ok) {
          counts.rejectedFiles += 1;
          logger.warn({ path, reason: parsed.reason }, 'archive index not used; every archive is read again');
          return;
        }
        loaded = parsed.entries;
        const magicEnd = bytes.indexOf(0x0a);
        lastHeader = bytes.toString('utf8', magicEnd + 1, bytes.indexOf(0x0a, magicEnd + 1));
        counts.rejectedRecords += parsed.droppedRecords;
        logger.info({ path, records: loaded.size, droppedRecords: parsed.droppedRecords }, 'archive index loaded');
      } finally {
        await handle.close();
      }
    } catch (error) {
      if (codeOf(error) === 'ENOENT') logger.info({ path }, 'no archive index yet; every archive is read');
      else logger.warn({ path, reason: messageOf(error) }, 'cannot read the archive index; every archive is read again');
    }
  }

  const identify: IdentifyArchive = async (archivePath, name, fingerprint) => {
    if (path === undefined) {
      counts.reads += 1;
      return deps.identify(archivePath, name, fingerprint);
    }
    // The fingerprint is the inventory's lstat of the file, ctime and link count included: a record
    // matching all of it speaks for these bytes (a writer can set mtime back, not ctime), and no second
    // lstat is needed. Bytes changed after that lstat are caught by the reader, or give another ctime
    // at the next start.
    const record = loaded.get(name.fileName);
    if (record !== undefined) {
      loaded.delete(name.fileName);
      const file = indexedFileOf(fingerprint);
      if (file !== undefined && sameIndexedFile(record.file, file)) {
        counts.reused += 1;
        notFinal.delete(name.fileName);
        return record.result;
      }
    }
    counts.reads += 1;
    // Not final until the reader says so: a read that throws (its archive then settles as a failure
    // without a retry hint) is read again at the next start, not persisted.
    notFinal.add(name.fileName);
    const result = await deps.identify(archivePath, name, fingerprint);
    if (isFinal(result)) notFinal.delete(name.fileName);
    return result;
  };

  function follow(followed: Inventory): void {
    if (path === undefined) return;
    inventory = followed;
    unsubscribe = followed.subscribe(() => {
      // Kept while watching: once the inventory stops (before the last write) it no longer says.
      directoryIdentity = followed.status().directoryIdentity ?? directoryIdentity;
      dirty = true;
      arm();
    });
  }

  function arm(): void {
    if (timer !== undefined || writing !== undefined || unsubscribe === undefined) return;
    timer = setTimeout(() => {
      timer = undefined;
      void writeNow();
    }, writeDelayMs);
    timer.unref();
  }

  function writeNow(): Promise<void> {
    // The reset is a continuation of the promise, so it runs after `writing` is set even when the
    // body returns without awaiting (a reset inside it would run first and be overwritten, leaving a
    // settled promise that blocks every later write).
    writing ??= (async () => {
      if (!dirty || inventory === undefined || path === undefined) return;
      const status = inventory.status();
      // Before the first scan completes the view lacks archives still to be matched: writing it would lose them.
      const identity = status.directoryIdentity ?? directoryIdentity;
      if (!status.initialScanComplete || identity === undefined) return;
      dirty = false;
      loaded.clear();
      await writeIndex(path, { directory, dev: identity.dev, ino: identity.ino }, inventory.snapshot().archives);
    })().finally(() => {
      writing = undefined;
      if (dirty) arm();
    });
    return writing;
  }

  async function writeIndex(target: string, dir: IndexedDirectory, archives: readonly ArchiveRecord[]): Promise<void> {
    // Which records go in is decided once, so both passes below serialize the same ones; each record's
    // entry is made as the serializer takes it, so none outlives its line.
    // Each under the fingerprint its identity was read with, not the one of the moment: a ctime that
    // moved since (without a read) is not vouched for, and the next start reads that archive again.
    const included = archives.filter((record) => record.identifiedWith !== undefined && indexedFileOf(record.identifiedWith) !== undefined && !notFinal.has(record.fileName));
    function* entries(): Generator<[string, IndexEntry]> {
      for (const record of included) {
        const file = record.identifiedWith === undefined ? undefined : indexedFileOf(record.identifiedWith);
        if (file !== undefined) yield [record.fileName, { file, result: resultOf(record) }];
      }
    }
    // Archives gone from the directory leave the set (a read finishing now is committed before this timer runs).
    if (notFinal.size > 0) {
      const present = new Set(archives.map((record) => record.fileName));
      for (const name of notFinal) if (!present.has(name)) notFinal.delete(name);
    }
    // Two passes over the records, one piece of about 1 MiB at a time: the header first (it holds the
    // directory, the record count and the body's SHA-256, so the same header is the same file and an
    // unchanged index is not written), then the body written piece by piece as it is made again.
    const header = indexHeaderOf(dir, entries());
    if (header === lastHeader) return;
    try {
      await writeAtomically(target, [indexHead(header)], sameBodyAs(header, indexBodyChunks(entries())));
      lastHeader = header;
      counts.writes += 1;
      logger.debug({ path: target }, 'archive index written');
    } catch (error) {
      counts.writeFailures += 1;
      logger.warn({ path: target, reason: messageOf(error) }, 'cannot write the archive index; the next start reads the archives again');
    }
  }

  return {
    load,
    identify,
    follow,
    async stop() {
      unsubscribe?.();
      unsubscribe = undefined;
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
      await writing;
      await writeNow();
    },
    counts: () => ({ ...counts }),
  };
}

/**
 * The body's pieces, checked against the header's SHA-256 as they pass: a body that came out
 * otherwise the second time throws before the file is renamed into place (the old index stays).
 */
function* sameBodyAs(header: string, chunks: Iterable<Buffer>): Generator<Buffer> {
  const hash = createHash('sha256');
  for (const chunk of chunks) {
    hash.update(chunk);
    yield chunk;
  }
  const expected = (JSON.parse(header) as { sha256?: unknown }).sha256;
  if (hash.digest('hex') !== expected) throw new Error('the index body changed while it was written');
}

/** The fingerprint as the index keeps it; undefined for one built without an lstat (no ctime or link count). */
function indexedFileOf(fingerprint: FileFingerprint): IndexedFile | undefined {
  const { dev, ino, size, mtimeMs, ctimeMs, nlink } = fingerprint;
  return ctimeMs === undefined || nlink === undefined ? undefined : { dev, ino, size, mtimeMs, ctimeMs, nlink };
}

/** A result that reading the same bytes again would give. */
function isFinal(result: IdentityReadResult): boolean {
  return result.ok || result.retry === undefined;
}

/**
 * What the identity reader said, as far as the record keeps it: enough to build the same record again.
 * A name that contradicts spec.dump is stored as the failure it became (the same record results).
 */
function resultOf(record: ArchiveRecord): IdentityReadResult {
  const contents =
    record.memoryBytes === undefined
      ? undefined
      : {
          memoryBytes: record.memoryBytes,
          checkpointOtherBytes: record.checkpointOtherBytes ?? 0,
          rootfsDiffBytes: record.rootfsDiffBytes ?? 0,
          otherBytes: record.otherBytes ?? 0,
          missing: [...(record.missingEntries ?? [])],
          ...(record.compression !== undefined ? { compression: record.compression } : {}),
        };
  const withContents = contents === undefined ? {} : { contents };
  if (record.identity !== undefined) {
    const { namespace, pod, container } = record.identity;
    return { ok: true, value: { identity: { namespace, pod, container }, sources: [...record.identitySources], ...withContents } };
  }
  return { ok: false, reason: record.unidentifiedReason ?? 'unidentified', ...withContents };
}

/** Temporary file in the same directory, fsync, rename over, fsync of the directory: the old index or the new one, never a torn one. */
async function writeAtomically(target: string, ...parts: Iterable<Buffer>[]): Promise<void> {
  const temporary = `${target}.tmp`;
  try {
    const handle = await open(temporary, 'w', 0o600);
    try {
      for (const part of parts) for (const chunk of part) await handle.writeFile(chunk);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temporary, target);
  } catch (error) {
    await unlink(temporary).catch(() => undefined);
    throw error;
  }
  const dir = await open(join(target, '..'), 'r');
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}
