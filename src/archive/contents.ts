import type { TarEntry } from './tar-reader.js';
import type { ArchiveContents, CompressionFormat, ContentPart } from './types.js';

/**
 * The entries a restore needs: the runtime reads the container spec and config, and CRIU starts from
 * its inventory image. The Kubernetes end-to-end tests of the checkpoint API check exactly these three.
 */
export const RESTORE_ENTRIES = ['spec.dump', 'config.dump', 'checkpoint/inventory.img'] as const;

const CHECKPOINT_DIRECTORY = 'checkpoint/';
const ROOTFS_DIFF = 'rootfs-diff.tar';
/** CRIU names its page images pages-<id>.img, directly in the images directory. */
const PAGE_IMAGE = /^checkpoint\/pages-[^/]*\.img$/;

/** The part an entry's bytes count in, by its (normalized) path inside the archive. */
export function contentPartOf(name: string): ContentPart {
  if (PAGE_IMAGE.test(name)) return 'memory';
  if (name.startsWith(CHECKPOINT_DIRECTORY)) return 'checkpoint_other';
  if (name === ROOTFS_DIFF) return 'rootfs_diff';
  return 'other';
}

export interface ContentTally {
  /** Counts one entry; called for every entry the walk meets. */
  add(entry: TarEntry): void;
  /**
   * The composition of an archive of `fileSize` bytes on disk. `other` is what the named parts leave of
   * the file size, never below 0 (see ArchiveContents).
   */
  finish(fileSize: number, compression?: CompressionFormat, decompressedBytes?: number): ArchiveContents;
}

export function createContentTally(): ContentTally {
  let memory = 0;
  let checkpointOther = 0;
  let rootfsDiff = 0;
  const present = new Set<string>();
  return {
    add(entry) {
      switch (contentPartOf(entry.name)) {
        case 'memory':
          memory += entry.size;
          break;
        case 'checkpoint_other':
          checkpointOther += entry.size;
          break;
        case 'rootfs_diff':
          rootfsDiff += entry.size;
          break;
        case 'other':
          break;
      }
      // A sparse-stored file is still a regular file once extracted (Go's archive/tar and GNU tar expand it).
      const regular = entry.type === 'file' || entry.type === 'sparse';
      if (regular && (RESTORE_ENTRIES as readonly string[]).includes(entry.name)) present.add(entry.name);
    },
    finish(fileSize, compression, decompressedBytes) {
      const named = memory + checkpointOther + rootfsDiff;
      const contents: ArchiveContents = {
        memoryBytes: memory,
        checkpointOtherBytes: checkpointOther,
        rootfsDiffBytes: rootfsDiff,
        otherBytes: Math.max(0, fileSize - named),
        missing: RESTORE_ENTRIES.filter((name) => !present.has(name)),
        ...(compression === undefined ? {} : { compression }),
        ...(decompressedBytes === undefined ? {} : { decompressedBytes }),
      };
      return contents;
    },
  };
}

/** The bytes of one part. */
export function contentBytesOf(contents: ArchiveContents, part: ContentPart): number {
  switch (part) {
    case 'memory':
      return contents.memoryBytes;
    case 'checkpoint_other':
      return contents.checkpointOtherBytes;
    case 'rootfs_diff':
      return contents.rootfsDiffBytes;
    case 'other':
      return contents.otherBytes;
  }
}
