import type { ArchiveIdentity } from '../archive/types.js';
import type { ArchiveIndex, ContainerArchives } from '../inventory/archive-index.js';
import type { OwnerLookup } from '../retention/types.js';
import { familyHeader, sampleLine } from './exposition.js';

/**
 * One per-container family as data: a name, a help text and a pure function from the container's
 * archives to its value. `undefined` leaves the container's series out: a series is exported only
 * where it carries information.
 */
interface ContainerFamily {
  readonly name: string;
  readonly help: string;
  value(group: ContainerArchives): number | undefined;
}

const sum = (group: ContainerArchives, pick: (size: number, pinned: boolean) => number): number => {
  let total = 0;
  for (const record of group.records) total += pick(record.fingerprint.size, record.pinned);
  return total;
};

export const CONTAINER_FAMILIES: readonly ContainerFamily[] = [
  { name: 'checkpoint_archives', help: 'Settled checkpoint archives identified for the container.', value: (g) => g.records.length },
  { name: 'checkpoint_archive_bytes', help: 'Bytes of the settled checkpoint archives of the container.', value: (g) => sum(g, (size) => size) },
  // Records are sorted oldest first by the time in their names.
  {
    name: 'checkpoint_archive_oldest_timestamp_seconds',
    help: 'Time written in the name of the oldest archive of the container, in seconds since the epoch.',
    value: (g) => (g.records[0]?.name.timestampMs ?? NaN) / 1000,
  },
  {
    name: 'checkpoint_archive_newest_timestamp_seconds',
    help: 'Time written in the name of the newest archive of the container, in seconds since the epoch.',
    value: (g) => (g.records[g.records.length - 1]?.name.timestampMs ?? NaN) / 1000,
  },
  {
    name: 'checkpoint_archives_pinned',
    help: 'Archives of the container pinned by a .keep entry; never deleted. Absent where none is pinned.',
    value: (g) => {
      const pinned = sum(g, (_, isPinned) => (isPinned ? 1 : 0));
      return pinned > 0 ? pinned : undefined;
    },
  },
];

const ORPHANED = {
  name: 'checkpoint_archives_orphaned',
  help: 'Archives of the container whose pod or container no longer exists, as last seen by the Kubernetes API. Absent where there are none.',
};

const labelsOf = (id: ArchiveIdentity): ReadonlyArray<readonly [string, string]> => [
  ['namespace', id.namespace],
  ['pod', id.pod],
  ['container', id.container],
];

export interface ContainerMetrics {
  /** Renders again the lines of these containers (gone ones are dropped). */
  update(keys: Iterable<string>): void;
  /** Renders every container again (the index was rebuilt). */
  rebuild(): void;
  /** The per-container families as exposition text; re-joined only when a container changed since the last call. */
  text(owners: OwnerLookup | undefined): string;
  /** Containers rendered since start, for tests that count work. */
  renders(): number;
}

/**
 * Per-container series rendered when that container changes and cached, in the kube-state-metrics
 * way: a scrape joins cached text instead of setting 10,000 label sets on prom-client gauges.
 * With `enabled` false only the families' headers are kept out too: node-level totals stay.
 */
export function createContainerMetrics(index: () => ArchiveIndex, enabled = true): ContainerMetrics {
  // One array per family, so the text of each family stays contiguous under a single header.
  const lines = new Map<string, string[]>();
  let joined: string | undefined;
  let renders = 0;

  const render = (key: string): void => {
    const group = index().containerByKey(key);
    if (group === undefined) {
      if (lines.delete(key)) joined = undefined;
      return;
    }
    renders += 1;
    const labels = labelsOf(group.identity);
    lines.set(
      key,
      CONTAINER_FAMILIES.map((family) => {
        const value = family.value(group);
        return value === undefined ? '' : sampleLine(family.name, labels, value);
      }),
    );
    joined = undefined;
  };

  const join = (): string => {
    const parts: string[] = [];
    CONTAINER_FAMILIES.forEach((family, i) => {
      parts.push(familyHeader(family.name, family.help, 'gauge'));
      for (const rendered of lines.values()) parts.push(rendered[i] as string);
    });
    return parts.join('');
  };

  return {
    update(keys) {
      if (!enabled) return;
      for (const key of keys) render(key);
    },
    rebuild() {
      lines.clear();
      joined = undefined;
      if (!enabled) return;
      for (const group of index().containers()) render(group.key);
    },
    text(owners) {
      if (!enabled) return '';
      joined ??= join();
      // Orphans change with the owner view, not with the directory: few series, rendered per scrape.
      let orphaned = familyHeader(ORPHANED.name, ORPHANED.help, 'gauge');
      if (owners !== undefined) {
        for (const group of index().containers()) {
          if (owners(group.identity).state === 'orphan') orphaned += sampleLine(ORPHANED.name, labelsOf(group.identity), group.records.length);
        }
      }
      return joined + orphaned;
    },
    renders: () => renders,
  };
}
