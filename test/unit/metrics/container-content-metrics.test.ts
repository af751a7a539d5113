import { describe, expect, it } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import type { ArchiveIdentity } from '../../../src/archive/types.js';
import { createArchiveIndex } from '../../../src/inventory/archive-index.js';
import type { ArchiveRecord } from '../../../src/inventory/types.js';
import { CONTAINER_FAMILIES, createContainerMetrics, samplesOf } from '../../../src/metrics/container-metrics.js';
import { findBinary } from '../../support/binaries.js';
import { sampleValue } from '../../support/metrics-text.js';
import { archiveRecord } from '../../support/snapshots.js';

/** checkpoint_archive_content_bytes{part} and checkpoint_archives_unrestorable, from the records' composition. */

const cart: ArchiveIdentity = { namespace: 'shop-prod', pod: 'cart-0', container: 'cart-api' };
const web: ArchiveIdentity = { namespace: 'web', pod: 'front-0', container: 'nginx' };
const legacy: ArchiveIdentity = { namespace: 'old', pod: 'app-0', container: 'app' };

interface Parts {
  readonly memory: number;
  readonly checkpointOther: number;
  readonly rootfsDiff: number;
  readonly other: number;
  readonly restorable?: boolean;
  readonly compression?: 'gzip';
}

function record(identity: ArchiveIdentity | undefined, timestamp: string, parts: Parts | undefined): ArchiveRecord {
  const size = parts === undefined ? 5000 : parts.compression === undefined ? parts.memory + parts.checkpointOther + parts.rootfsDiff + parts.other : 777;
  const base = archiveRecord(identity, { timestamp, size });
  if (parts === undefined) return base;
  return {
    ...base,
    memoryBytes: parts.memory,
    checkpointOtherBytes: parts.checkpointOther,
    rootfsDiffBytes: parts.rootfsDiff,
    otherBytes: parts.other,
    restorable: parts.restorable ?? true,
    missingEntries: parts.restorable === false ? ['checkpoint/inventory.img'] : [],
    compression: parts.compression,
  };
}

function metricsOf(records: readonly ArchiveRecord[]): string {
  const index = createArchiveIndex();
  for (const r of records) index.add(r);
  const metrics = createContainerMetrics(() => index);
  metrics.rebuild();
  return metrics.text(undefined);
}

const labels = (id: ArchiveIdentity, part?: string): Record<string, string> => ({ ...id, ...(part === undefined ? {} : { part }) });

describe('content bytes and unrestorable archives per container', () => {
  const records = [
    record(cart, '2026-01-01T10:00:00Z', { memory: 1000, checkpointOther: 100, rootfsDiff: 10, other: 1 }),
    record(cart, '2026-01-01T11:00:00Z', { memory: 2000, checkpointOther: 200, rootfsDiff: 20, other: 2, restorable: false }),
    record(cart, '2026-01-01T12:00:00Z', { memory: 50_000, checkpointOther: 300, rootfsDiff: 30, other: 0, compression: 'gzip' }),
    record(web, '2026-01-02T00:00:00Z', { memory: 7, checkpointOther: 6, rootfsDiff: 5, other: 4 }),
    // Composition unknown (built without walking the archive): no content series for that container.
    record(legacy, '2026-01-03T00:00:00Z', undefined),
    record(undefined, '2026-01-03T00:00:00Z', { memory: 9, checkpointOther: 9, rootfsDiff: 9, other: 9, restorable: false }),
  ];
  const text = metricsOf(records);

  it('sums each part over the container’s archives, compressed ones by their decompressed parts', () => {
    expect(['memory', 'checkpoint_other', 'rootfs_diff', 'other'].map((part) => sampleValue(text, 'checkpoint_archive_content_bytes', labels(cart, part)))).toEqual([53_000, 600, 60, 3]);
    expect(['memory', 'checkpoint_other', 'rootfs_diff', 'other'].map((part) => sampleValue(text, 'checkpoint_archive_content_bytes', labels(web, part)))).toEqual([7, 6, 5, 4]);
  });

  it('for plain tar archives the parts sum to checkpoint_archive_bytes', () => {
    const parts = ['memory', 'checkpoint_other', 'rootfs_diff', 'other'].reduce((sum, part) => sum + (sampleValue(text, 'checkpoint_archive_content_bytes', labels(web, part)) ?? 0), 0);
    expect(parts).toBe(sampleValue(text, 'checkpoint_archive_bytes', labels(web)));
  });

  it('leaves out containers whose composition is unknown, and unidentified archives', () => {
    expect(text).not.toMatch(/checkpoint_archive_content_bytes\{namespace="old"/);
    expect(text.match(/^checkpoint_archive_content_bytes\{/gm)).toHaveLength(8);
  });

  it('counts unrestorable archives only where there are some', () => {
    expect(sampleValue(text, 'checkpoint_archives_unrestorable', labels(cart))).toBe(1);
    expect(sampleValue(text, 'checkpoint_archives_unrestorable', labels(web))).toBeUndefined();
    expect(sampleValue(text, 'checkpoint_archives_unrestorable', labels(legacy))).toBeUndefined();
    expect(text.match(/^checkpoint_archives_unrestorable\{/gm)).toHaveLength(1);
  });

  it('a family yields several labelled samples or one plain value, through one shape', () => {
    const index = createArchiveIndex();
    for (const r of records) index.add(r);
    const group = [...index.containers()].find((g) => g.identity.namespace === 'web');
    expect(group).toBeDefined();
    if (group === undefined) return;
    const byName = Object.fromEntries(CONTAINER_FAMILIES.map((family) => [family.name, samplesOf(family, group)]));
    expect(byName['checkpoint_archives']).toEqual([{ value: 1 }]);
    expect(byName['checkpoint_archive_content_bytes']).toEqual([
      { labels: [['part', 'memory']], value: 7 },
      { labels: [['part', 'checkpoint_other']], value: 6 },
      { labels: [['part', 'rootfs_diff']], value: 5 },
      { labels: [['part', 'other']], value: 4 },
    ]);
    expect(byName['checkpoint_archives_unrestorable']).toEqual([]);
  });

  const promtool = findBinary('promtool', 'prometheus');
  (promtool ? it : it.skip)('passes promtool check metrics', () => {
    expect(execFileSync(promtool as string, ['check', 'metrics'], { input: text, encoding: 'utf8' })).toBe('');
  });
});
