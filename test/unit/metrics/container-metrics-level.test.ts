import { describe, expect, it } from '@jest/globals';
import { containerKeyOf, createArchiveIndex } from '../../../src/inventory/archive-index.js';
import type { ArchiveRecord } from '../../../src/inventory/types.js';
import { createContainerMetrics } from '../../../src/metrics/container-metrics.js';
import { archiveRecord } from '../../support/snapshots.js';

const composed = (record: ArchiveRecord, memory: number): ArchiveRecord => ({ ...record, memoryBytes: memory, checkpointOtherBytes: 10, rootfsDiffBytes: 20, otherBytes: 30, restorable: true, missingEntries: [] });

function indexOf() {
  const index = createArchiveIndex();
  const shop = (pod: string, container: string, stamp: string, memory: number) =>
    composed(archiveRecord({ namespace: 'shop', pod, container }, { timestamp: stamp, size: memory + 60 }), memory);
  index.add(shop('web-0', 'nginx', '2026-01-01T00:00:00Z', 100));
  index.add(shop('web-0', 'nginx', '2026-01-02T00:00:00Z', 200));
  index.add(shop('web-1', 'nginx', '2026-01-01T00:00:00Z', 1_000));
  index.add(composed(archiveRecord({ namespace: 'batch', pod: 'job-0', container: 'main' }, { timestamp: '2026-01-01T00:00:00Z', size: 5_060 }), 5_000));
  return index;
}

const series = (text: string): string[] => text.split('\n').filter((line) => line !== '' && !line.startsWith('#'));

describe('per-container metric levels', () => {
  it('counts keeps the per-container counts and moves the composition to one family per namespace, summing to the same bytes', () => {
    const index = indexOf();
    const all = createContainerMetrics(() => index, 'all');
    const counts = createContainerMetrics(() => index, 'counts');
    for (const metrics of [all, counts]) metrics.rebuild();
    const allText = all.text(undefined);
    const countsText = counts.text(undefined);

    expect(countsText).not.toContain('checkpoint_archive_content_bytes{');
    expect(countsText).toContain('checkpoint_namespace_archive_content_bytes{namespace="shop",part="memory"} 1300\n');
    expect(countsText).toContain('checkpoint_namespace_archive_content_bytes{namespace="batch",part="memory"} 5000\n');
    expect(countsText).toContain('checkpoint_namespace_archive_content_bytes{namespace="shop",part="other"} 90\n');
    // The families they keep are the same lines as at `all`.
    const kept = (text: string) => series(text).filter((line) => /^checkpoint_(archives|archive_bytes|archive_oldest|archive_newest)/.test(line));
    expect(kept(countsText)).toEqual(kept(allText));
    // 3 containers: 4 content series each at `all`; 2 namespaces x 4 parts at `counts`.
    expect(series(allText).length - series(countsText).length).toBe(3 * 4 - 2 * 4);
    expect(createContainerMetrics(() => index, 'none').text(undefined)).toBe('');
  });

  it('renders the namespace composition again after a change, not before', () => {
    const index = indexOf();
    const counts = createContainerMetrics(() => index, 'counts');
    counts.rebuild();
    expect(counts.text(undefined)).toContain('namespace="batch",part="memory"} 5000\n');
    const more = composed(archiveRecord({ namespace: 'batch', pod: 'job-0', container: 'main' }, { timestamp: '2026-01-05T00:00:00Z', size: 60 }), 7);
    index.add(more);
    counts.update([containerKeyOf(more.identity!)]);
    expect(counts.text(undefined)).toContain('namespace="batch",part="memory"} 5007\n');
  });

  it('takes the older switch: true is all, false is none', () => {
    const index = indexOf();
    const on = createContainerMetrics(() => index, true);
    on.rebuild();
    expect(on.text(undefined)).toContain('checkpoint_archive_content_bytes{');
    expect(createContainerMetrics(() => index, false).text(undefined)).toBe('');
  });
});
