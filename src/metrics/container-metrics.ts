import { CONTENT_PARTS, type ArchiveIdentity, type ContentPart } from '../archive/types.js';
import type { ArchiveIndex, ContainerArchives } from '../inventory/archive-index.js';
import type { ArchiveRecord } from '../inventory/types.js';
import type { OwnerLookup } from '../retention/types.js';
import { familyHeader, sampleLine } from './exposition.js';

/** One sample of a family: labels beyond namespace, pod and container (none for most), and its value. */
export interface ContainerSample {
  readonly labels?: ReadonlyArray<readonly [string, string]>;
  readonly value: number;
}

/**
 * One per-container family as data: a name, a help text and a pure function from the container's
 * archives to its samples. Most families yield one value (`value`); a family with a further label
 * yields several labelled samples (`samples`). `undefined` or no sample leaves the container's series
 * out: a series is exported only where it carries information.
 */
export type ContainerFamily = {
  readonly name: string;
  readonly help: string;
} & ({ value(group: ContainerArchives): number | undefined } | { samples(group: ContainerArchives): readonly ContainerSample[] });

/** The samples of one family for one container. */
export function samplesOf(family: ContainerFamily, group: ContainerArchives): readonly ContainerSample[] {
  if ('samples' in family) return family.samples(group);
  const value = family.value(group);
  return value === undefined ? [] : [{ value }];
}

const sum = (group: ContainerArchives, pick: (size: number, pinned: boolean) => number): number => {
  let total = 0;
  for (const record of group.records) total += pick(record.fingerprint.size, record.pinned);
  return total;
};

const PART_FIELDS: ReadonlyArray<readonly [ContentPart, (record: ArchiveRecord) => number | undefined]> = CONTENT_PARTS.map((part) => {
  switch (part) {
    case 'memory':
      return [part, (r: ArchiveRecord) => r.memoryBytes] as const;
    case 'checkpoint_other':
      return [part, (r: ArchiveRecord) => r.checkpointOtherBytes] as const;
    case 'rootfs_diff':
      return [part, (r: ArchiveRecord) => r.rootfsDiffBytes] as const;
    case 'other':
      return [part, (r: ArchiveRecord) => r.otherBytes] as const;
  }
});

/** Bytes per part over the archives whose composition is known; no sample when none is. */
function contentSamples(group: ContainerArchives): ContainerSample[] {
  const totals = PART_FIELDS.map(() => 0);
  let known = false;
  for (const record of group.records) {
    if (record.memoryBytes === undefined) continue;
    known = true;
    PART_FIELDS.forEach(([, field], i) => {
      totals[i] = (totals[i] as number) + (field(record) ?? 0);
    });
  }
  return known ? PART_FIELDS.map(([part], i) => ({ labels: [['part', part]], value: totals[i] as number })) : [];
}

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
    help: 'Archives of the container pinned by a .keep entry (or a .keep.tmp, a pin being written); never deleted. Absent where none is pinned.',
    value: (g) => {
      const pinned = sum(g, (_, isPinned) => (isPinned ? 1 : 0));
      return pinned > 0 ? pinned : undefined;
    },
  },
  {
    name: 'checkpoint_archive_content_bytes',
    help:
      'Bytes of the container\'s archives by part: memory (CRIU page images), checkpoint_other (the rest of checkpoint/), rootfs_diff (rootfs-diff.tar), other (everything else, headers included). For plain tar archives the parts sum to checkpoint_archive_bytes; for compressed ones the named parts are decompressed sizes.',
    samples: contentSamples,
  },
  {
    name: 'checkpoint_archives_unrestorable',
    help: 'Archives of the container that cannot be restored: spec.dump, config.dump or checkpoint/inventory.img is missing. Absent where there are none.',
    value: (g) => {
      let unrestorable = 0;
      for (const record of g.records) if (record.restorable === false) unrestorable += 1;
      return unrestorable > 0 ? unrestorable : undefined;
    },
  },
];

/**
 * How much per-container detail a scrape carries: `all` every per-container family; `counts` the
 * per-container count, bytes, oldest and newest (and the sparse pinned, unrestorable and orphaned
 * counts), with the composition by part summed per namespace instead of per container (4 series per
 * container fewer); `none` no per-container family (node-level totals stay).
 */
export const CONTAINER_METRICS_LEVELS = ['all', 'counts', 'none'] as const;
export type ContainerMetricsLevel = (typeof CONTAINER_METRICS_LEVELS)[number];

/** `true`/`false` are the older switch: all or none. */
export function containerMetricsLevelOf(value: ContainerMetricsLevel | boolean | undefined): ContainerMetricsLevel {
  if (value === undefined || value === true) return 'all';
  if (value === false) return 'none';
  return value;
}

const CONTENT_FAMILY = 'checkpoint_archive_content_bytes';
const NAMESPACE_CONTENT = {
  name: 'checkpoint_namespace_archive_content_bytes',
  help: 'Bytes of the namespace\'s identified archives by part (memory, checkpoint_other, rootfs_diff, other), summed over its containers; exported with --container-metrics=counts in place of the per-container checkpoint_archive_content_bytes.',
};

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
  /** The per-container families as exposition text, in chunks: about one per 256 containers and family. */
  chunks(owners: OwnerLookup | undefined): (string | Buffer)[];
  /** The same, joined. */
  text(owners: OwnerLookup | undefined): string;
  /** Containers rendered since start, for tests that count work. */
  renders(): number;
}

/** Containers per block: a change re-renders one block's text, never the whole family's. */
const BLOCK_SIZE = 256;

interface Block {
  readonly keys: Set<string>;
  /**
   * Per family, the lines of the block's containers, encoded once: a scrape writes these very bytes,
   * with no string-to-bytes conversion per scrape. Undefined when a container in it changed.
   */
  text: Buffer[] | undefined;
}

/**
 * Per-container series rendered when that container changes and cached, in the kube-state-metrics
 * way: a scrape hands out cached text instead of setting 10,000 label sets on prom-client gauges.
 * Containers are grouped in blocks of 256 whose text is kept per family, so a scrape hands out about
 * (containers / 256) strings per family and a change re-renders one block. With `enabled` false the
 * per-container families are left out altogether: node-level totals stay.
 */
export function createContainerMetrics(index: () => ArchiveIndex, level: ContainerMetricsLevel | boolean = true): ContainerMetrics {
  const mode = containerMetricsLevelOf(level);
  const enabled = mode !== 'none';
  const families = mode === 'counts' ? CONTAINER_FAMILIES.filter((family) => family.name !== CONTENT_FAMILY) : CONTAINER_FAMILIES;
  /** The per-namespace composition (`counts`), rendered again only after a change. */
  let namespaceText: string | undefined;
  const blocks: Block[] = [];
  const blockOf = new Map<string, Block>();
  let renders = 0;

  const place = (key: string): Block => {
    let block = blockOf.get(key);
    if (block !== undefined) return block;
    block = blocks.find((candidate) => candidate.keys.size < BLOCK_SIZE);
    if (block === undefined) blocks.push((block = { keys: new Set(), text: undefined }));
    block.keys.add(key);
    blockOf.set(key, block);
    return block;
  };

  const changed = (key: string): void => {
    if (index().containerByKey(key) !== undefined) {
      place(key).text = undefined;
      return;
    }
    const block = blockOf.get(key);
    if (block === undefined) return;
    block.keys.delete(key);
    block.text = undefined;
    blockOf.delete(key);
  };

  const blockText = (block: Block): Buffer[] => {
    if (block.text === undefined) {
      const perFamily: string[][] = families.map(() => []);
      for (const key of block.keys) {
        const group = index().containerByKey(key);
        if (group === undefined) continue;
        renders += 1;
        const labels = labelsOf(group.identity);
        families.forEach((family, i) => {
          for (const sample of samplesOf(family, group)) {
            perFamily[i]?.push(sampleLine(family.name, sample.labels === undefined ? labels : [...labels, ...sample.labels], sample.value));
          }
        });
      }
      block.text = perFamily.map((parts) => Buffer.from(parts.join(''), 'utf8'));
    }
    return block.text;
  };

  // After a rebuild, render the blocks in the background, one per event-loop turn, so the next scrape
  // finds them ready instead of rendering 10,000 containers at once.
  let warming = false;
  const warm = (): void => {
    if (warming) return;
    warming = true;
    const step = (): void => {
      const next = blocks.find((block) => block.text === undefined);
      if (next === undefined) {
        warming = false;
        return;
      }
      blockText(next);
      setImmediate(step).unref();
    };
    setImmediate(step).unref();
  };

  const chunks = (owners: OwnerLookup | undefined): (string | Buffer)[] => {
    if (!enabled) return [];
    const out: (string | Buffer)[] = [];
    families.forEach((family, i) => {
      out.push(familyHeader(family.name, family.help, 'gauge'));
      for (const block of blocks) {
        const text = blockText(block)[i];
        if (text !== undefined && text.length > 0) out.push(text);
      }
    });
    // Orphans change with the owner view, not with the directory: few series, rendered per scrape.
    const orphaned: string[] = [familyHeader(ORPHANED.name, ORPHANED.help, 'gauge')];
    if (owners !== undefined) {
      for (const group of index().containers()) {
        if (owners(group.identity).state === 'orphan') orphaned.push(sampleLine(ORPHANED.name, labelsOf(group.identity), group.records.length));
      }
    }
    out.push(orphaned.join(''));
    if (mode === 'counts') out.push((namespaceText ??= renderNamespaceContent(index())));
    return out;
  };

  return {
    update(keys) {
      if (!enabled) return;
      namespaceText = undefined;
      for (const key of keys) changed(key);
    },
    rebuild() {
      namespaceText = undefined;
      blocks.length = 0;
      blockOf.clear();
      if (!enabled) return;
      for (const group of index().containers()) place(group.key);
      warm();
    },
    chunks,
    text: (owners) => chunks(owners).map((chunk) => chunk.toString()).join(''),
    renders: () => renders,
  };
}

/** The composition by part summed per namespace: a handful of series per namespace instead of four per container. */
function renderNamespaceContent(index: ArchiveIndex): string {
  const totals = new Map<string, number[]>();
  for (const group of index.containers()) {
    for (const record of group.records) {
      if (record.memoryBytes === undefined) continue;
      let parts = totals.get(group.identity.namespace);
      if (parts === undefined) totals.set(group.identity.namespace, (parts = PART_FIELDS.map(() => 0)));
      PART_FIELDS.forEach(([, field], i) => {
        (parts as number[])[i] = ((parts as number[])[i] as number) + (field(record) ?? 0);
      });
    }
  }
  const lines = [familyHeader(NAMESPACE_CONTENT.name, NAMESPACE_CONTENT.help, 'gauge')];
  for (const namespace of [...totals.keys()].sort()) {
    const parts = totals.get(namespace) as number[];
    PART_FIELDS.forEach(([part], i) => lines.push(sampleLine(NAMESPACE_CONTENT.name, [['namespace', namespace], ['part', part]], parts[i] as number)));
  }
  return lines.join('');
}
