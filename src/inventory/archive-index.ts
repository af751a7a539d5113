import type { ArchiveRecord } from './types.js';

/** Identified archives grouped by owner, each group oldest first (name timestamp, then file name). */
export interface ArchiveIndex {
  readonly namespaces: ReadonlyMap<string, ReadonlyMap<string, ReadonlyMap<string, readonly ArchiveRecord[]>>>;
  /** Unidentified archives belong to no scope; per-scope limits never see them. */
  readonly unidentified: readonly ArchiveRecord[];
  ofContainer(namespace: string, pod: string, container: string): readonly ArchiveRecord[];
}

const NONE: readonly ArchiveRecord[] = Object.freeze([]);

function olderFirst(a: ArchiveRecord, b: ArchiveRecord): number {
  return a.name.timestampMs - b.name.timestampMs || (a.fileName < b.fileName ? -1 : a.fileName > b.fileName ? 1 : 0);
}

/**
 * Nested maps rather than a joined string key: identities come from spec.dump, which is untrusted,
 * so no separator character can be assumed absent from them.
 */
export function indexArchives(archives: readonly ArchiveRecord[]): ArchiveIndex {
  const namespaces = new Map<string, Map<string, Map<string, ArchiveRecord[]>>>();
  const unidentified: ArchiveRecord[] = [];
  for (const record of archives) {
    if (record.identity === undefined) {
      unidentified.push(record);
      continue;
    }
    const { namespace, pod, container } = record.identity;
    let pods = namespaces.get(namespace);
    if (pods === undefined) namespaces.set(namespace, (pods = new Map()));
    let containers = pods.get(pod);
    if (containers === undefined) pods.set(pod, (containers = new Map()));
    let group = containers.get(container);
    if (group === undefined) containers.set(container, (group = []));
    group.push(record);
  }
  for (const pods of namespaces.values()) {
    for (const containers of pods.values()) {
      for (const group of containers.values()) group.sort(olderFirst);
    }
  }
  return {
    namespaces,
    unidentified: Object.freeze(unidentified),
    ofContainer(namespace, pod, container) {
      return namespaces.get(namespace)?.get(pod)?.get(container) ?? NONE;
    },
  };
}
