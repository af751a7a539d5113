import type { ArchiveRecord } from '../inventory/types.js';
import type { Readable } from 'node:stream';
import type { ArchiveIdentity } from '../archive/types.js';

/** The record kept beside each offloaded archive (`<archive>.offload.json`): what `fetch` verifies against. */
export interface OffloadRecord {
  readonly version: 1;
  readonly node: string;
  readonly fileName: string;
  /** Null for an archive whose identity could not be read (stored under `_unidentified`). */
  readonly identity: ArchiveIdentity | null;
  /** Bytes by part and what a restore would miss, as the inventory read them (absent: not read). */
  readonly composition?: OffloadComposition;
  readonly size: number;
  /** Hex SHA-256 of the bytes read from the node, computed while they streamed. */
  readonly sha256: string;
  readonly mtimeMs: number;
  readonly offloadedAt: string;
}

/** The archive's composition as the inventory read it, recorded beside the copy (compression as its name). */
export type OffloadComposition = Pick<ArchiveRecord, 'memoryBytes' | 'checkpointOtherBytes' | 'rootfsDiffBytes' | 'otherBytes' | 'restorable' | 'missingEntries'> & {
  readonly compression?: string | undefined;
};

/** The bytes of one copy as they streamed: counted and hashed on their way to the target. */
export interface CopiedBytes {
  readonly size: number;
  readonly sha256: string;
}

/**
 * Where archives go. `put` consumes `body` to the end and makes the copy visible under `key` only when
 * the stream ended without an error (a temporary name renamed, or one completed object): a stream that
 * errors (the source changed, a short read) leaves nothing under `key`. The record is written after the
 * data, so a record always describes complete data.
 */
export interface OffloadTarget {
  /** `/mnt/offload` or `s3://bucket/prefix`, for logs, Events and plan. */
  readonly description: string;
  locationOf(key: string): string;
  put(key: string, body: Readable, copied: () => CopiedBytes, record: (copied: CopiedBytes) => OffloadRecord, signal: AbortSignal): Promise<void>;
  /** The record and a stream of the data; rejects when either is missing. */
  get(key: string): Promise<{ readonly record: OffloadRecord; readonly body: Readable }>;
}

export const RECORD_SUFFIX = '.offload.json';
