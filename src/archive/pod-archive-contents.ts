/**
 * What a pod-level archive holds, read from its tar headers only. The layout is the runtime's and may
 * change between versions (KEP-5823 leaves it to the CRI implementation), so nothing here is needed for
 * the archive's identity, which comes from its name (or its PodCheckpoint object): a walk that fails
 * leaves the archive identified, only without a composition.
 *
 * The runtimes' current layouts keep each container's checkpoint in a directory of its own beside the
 * pod's files (`<container>/spec.dump`, `<container>/checkpoint/pages-1.img`,
 * `<container>/rootfs-diff.tar`, `pod.dump`, ...). An entry under such a directory counts in the part its
 * path inside that directory names (container-archive parts, see contents.ts) and in that container's
 * bytes; top-level entries are the pod's own.
 */
import { walkArchive } from './archive-walk.js';
import { withFileByteSource } from './byte-source.js';
import { DEFAULT_DECOMPRESSION_LIMITS } from './compressed.js';
import { contentPartOf } from './contents.js';
import type { IdentityReadResult } from './identity.js';
import type { TarEntry } from './tar-reader.js';
import type { ArchiveContents, CompressionFormat, FileFingerprint } from './types.js';

/**
 * A directory counts as a container's when it holds one of these: the files the runtimes write for
 * every checkpointed container. Other directories are the pod's own files (`other`).
 */
const CONTAINER_MARKERS = ['spec.dump', 'config.dump'];
const CHECKPOINT_DIRECTORY = 'checkpoint/';

/**
 * Past this many container directories the rest are summed under one name: a pod has a handful of
 * containers, and a hostile archive must not grow the breakdown (or `inspect`'s output) without bound.
 */
export const MAX_POD_ARCHIVE_CONTAINERS = 64;
export const OTHER_CONTAINERS = '(others)';

export interface PodArchiveContents {
  readonly contents: ArchiveContents;
  /** Bytes of each container directory's entries, by directory name; empty when the layout shows none. */
  readonly containers: ReadonlyMap<string, number>;
  readonly entries: number;
}

/** The composition of a pod archive from its headers (`entries` from one walk of them). */
export function podContentsOf(entries: readonly TarEntry[], fileSize: number, compression?: CompressionFormat, decompressedBytes?: number): PodArchiveContents {
  const containerNames = new Set<string>();
  for (const entry of entries) {
    const slash = entry.name.indexOf('/');
    if (slash <= 0) continue;
    const top = entry.name.slice(0, slash + 1);
    const rest = entry.name.slice(slash + 1);
    if (top !== CHECKPOINT_DIRECTORY && (CONTAINER_MARKERS.includes(rest) || rest.startsWith(CHECKPOINT_DIRECTORY))) containerNames.add(top.slice(0, -1));
  }
  const parts = { memory: 0, checkpoint_other: 0, rootfs_diff: 0, other: 0 };
  const containers = new Map<string, number>();
  for (const entry of entries) {
    const slash = entry.name.indexOf('/');
    const top = slash > 0 ? entry.name.slice(0, slash) : undefined;
    const inContainer = top !== undefined && containerNames.has(top);
    const part = contentPartOf(inContainer ? entry.name.slice(slash + 1) : entry.name);
    parts[part] += entry.size;
    if (inContainer) {
      const key = containers.has(top) || containers.size < MAX_POD_ARCHIVE_CONTAINERS ? top : OTHER_CONTAINERS;
      containers.set(key, (containers.get(key) ?? 0) + entry.size);
    }
  }
  const named = parts.memory + parts.checkpoint_other + parts.rootfs_diff;
  const contents: ArchiveContents = {
    memoryBytes: parts.memory,
    checkpointOtherBytes: parts.checkpoint_other,
    rootfsDiffBytes: parts.rootfs_diff,
    otherBytes: Math.max(0, fileSize - named),
    // What a pod restore needs is the runtime's to say; nothing is reported missing rather than guessed.
    missing: [],
    ...(compression === undefined ? {} : { compression }),
    ...(decompressedBytes === undefined ? {} : { decompressedBytes }),
  };
  return { contents, containers, entries: entries.length };
}

/** Reads a pod archive's headers; a walk that fails is a composition left unknown, not a failure. */
export async function readPodArchiveContents(path: string, expect?: FileFingerprint): Promise<{ readonly ok: true; readonly value: PodArchiveContents | undefined } | { readonly ok: false; readonly reason: string; readonly retry?: 'changed' | 'transient' }> {
  return withFileByteSource(
    path,
    async (source) => {
      const walked = await walkArchive(source, { bodies: [], maxBodyBytes: 0, listEntries: true, compressed: DEFAULT_DECOMPRESSION_LIMITS });
      if (!walked.ok) return { ok: true as const, value: undefined };
      const { contents, entries } = walked.value;
      return { ok: true as const, value: podContentsOf(entries, source.size, contents.compression, contents.decompressedBytes) };
    },
    expect,
  );
}

/**
 * The inventory's reading of a pod archive: its identity from the name (pod and namespace; no container),
 * its composition from the headers when they can be walked.
 */
export async function identifyPodArchive(path: string, namespace: string, pod: string, expect?: FileFingerprint): Promise<IdentityReadResult> {
  const read = await readPodArchiveContents(path, expect);
  if (!read.ok) return read;
  const identity = { namespace, pod, container: '' };
  return { ok: true, value: read.value === undefined ? { identity, sources: [] } : { identity, sources: [], contents: read.value.contents } };
}
