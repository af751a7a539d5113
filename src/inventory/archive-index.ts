import { compareArchiveAge } from '../archive/age-order.js';
import type { ArchiveIdentity } from '../archive/types.js';
import type { ArchiveRecord } from './types.js';

/** The identified archives of one container on this node, oldest first. */
export interface ContainerArchives {
  /** `namespace \0 pod \0 container`: stable for the life of the group. */
  readonly key: string;
  readonly identity: ArchiveIdentity;
  /** Oldest first (compareArchiveAge: name timestamp, then mtime, then file name). Mutated in place by the index: copy before an await. */
  readonly records: readonly ArchiveRecord[];
}

/**
 * Identified archives grouped by owner, kept up to date one archive at a time: adding or removing an
 * archive costs the size of its container's group, never the size of the directory.
 */
export interface ArchiveIndex {
  readonly namespaces: ReadonlyMap<string, ReadonlyMap<string, ReadonlyMap<string, ContainerArchives>>>;
  /** Unidentified archives by file name; they belong to no scope, so per-scope limits never see them. */
  readonly unidentified: ReadonlyMap<string, ArchiveRecord>;
  /** Settled archives, identified or not. */
  readonly size: number;
  ofContainer(namespace: string, pod: string, container: string): readonly ArchiveRecord[];
  containerByKey(key: string): ContainerArchives | undefined;
  containers(): IterableIterator<ContainerArchives>;
  /** Every identified archive of a namespace, in no particular order (a fresh array). */
  recordsOfNamespace(namespace: string): ArchiveRecord[];
}

export interface MutableArchiveIndex extends ArchiveIndex {
  /** Places a record; returns the container group it joined (undefined for an unidentified record). */
  add(record: ArchiveRecord): ContainerArchives | undefined;
  /** Removes exactly this record object; returns the group it left (undefined if unidentified or absent). */
  remove(record: ArchiveRecord): ContainerArchives | undefined;
  clear(): void;
}

const NONE: readonly ArchiveRecord[] = Object.freeze([]);
const SEP = '\u0000';

/**
 * Nested maps and a NUL-joined key: identities come from spec.dump, which is untrusted, but Kubernetes
 * names are validated before an identity is accepted, and NUL is in none of them.
 */
export const containerKeyOf = (id: ArchiveIdentity): string => `${id.namespace}${SEP}${id.pod}${SEP}${id.container}`;

interface Group extends ContainerArchives {
  readonly records: ArchiveRecord[];
}

export function createArchiveIndex(): MutableArchiveIndex {
  const namespaces = new Map<string, Map<string, Map<string, Group>>>();
  const byKey = new Map<string, Group>();
  const unidentified = new Map<string, ArchiveRecord>();
  let size = 0;

  const groupOf = (id: ArchiveIdentity, create: boolean): Group | undefined => {
    const key = containerKeyOf(id);
    const known = byKey.get(key);
    if (known !== undefined || !create) return known;
    let pods = namespaces.get(id.namespace);
    if (pods === undefined) namespaces.set(id.namespace, (pods = new Map()));
    let containers = pods.get(id.pod);
    if (containers === undefined) pods.set(id.pod, (containers = new Map()));
    const group: Group = { key, identity: Object.freeze({ namespace: id.namespace, pod: id.pod, container: id.container }), records: [] };
    containers.set(id.container, group);
    byKey.set(key, group);
    return group;
  };

  const dropIfEmpty = (group: Group): void => {
    if (group.records.length > 0) return;
    const { namespace, pod, container } = group.identity;
    byKey.delete(group.key);
    const pods = namespaces.get(namespace);
    const containers = pods?.get(pod);
    containers?.delete(container);
    if (containers?.size === 0) pods?.delete(pod);
    if (pods?.size === 0) namespaces.delete(namespace);
  };

  return {
    namespaces,
    unidentified,
    get size() {
      return size;
    },
    ofContainer(namespace, pod, container) {
      return namespaces.get(namespace)?.get(pod)?.get(container)?.records ?? NONE;
    },
    containerByKey: (key) => byKey.get(key),
    containers: () => byKey.values(),
    recordsOfNamespace(namespace) {
      const out: ArchiveRecord[] = [];
      for (const containers of namespaces.get(namespace)?.values() ?? []) {
        for (const group of containers.values()) for (const record of group.records) out.push(record);
      }
      return out;
    },
    add(record) {
      size += 1;
      if (record.identity === undefined) {
        unidentified.set(record.fileName, record);
        return undefined;
      }
      const group = groupOf(record.identity, true) as Group;
      // Binary search for the insertion point: groups are small, but arrival order is arbitrary.
      let low = 0;
      let high = group.records.length;
      while (low < high) {
        const mid = (low + high) >>> 1;
        if (compareArchiveAge(group.records[mid] as ArchiveRecord, record) <= 0) low = mid + 1;
        else high = mid;
      }
      group.records.splice(low, 0, record);
      return group;
    },
    remove(record) {
      if (record.identity === undefined) {
        if (unidentified.get(record.fileName) === record) {
          unidentified.delete(record.fileName);
          size -= 1;
        }
        return undefined;
      }
      const group = groupOf(record.identity, false);
      if (group === undefined) return undefined;
      const at = group.records.indexOf(record);
      if (at < 0) return undefined;
      group.records.splice(at, 1);
      size -= 1;
      dropIfEmpty(group);
      return group;
    },
    clear() {
      namespaces.clear();
      byKey.clear();
      unidentified.clear();
      size = 0;
    },
  };
}
