import { describe, expect, it } from '@jest/globals';
import type { ArchiveRecord } from '../../../src/inventory/types.js';
import { renderPodArchiveFamilies } from '../../../src/metrics/pod-archive-metrics.js';
import { sampleValue } from '../../support/metrics-text.js';
import { archiveRecord, inventorySnapshot, inventoryStatus } from '../../support/snapshots.js';
import { createArchiveIndex } from '../../../src/inventory/archive-index.js';

const podArchive = (pod: string, timestamp: string, size: number, parts?: [number, number, number, number], pinned = false): ArchiveRecord => {
  const record = archiveRecord({ namespace: 'default', pod, container: '' }, { timestamp, size, pinned });
  return parts === undefined ? record : { ...record, memoryBytes: parts[0], checkpointOtherBytes: parts[1], rootfsDiffBytes: parts[2], otherBytes: parts[3] };
};

describe('renderPodArchiveFamilies', () => {
  const archives = [
    podArchive('web-0', '2026-03-01T00:00:00Z', 100, [60, 20, 10, 10], true),
    podArchive('web-0', '2026-03-01T02:00:00Z', 50, [30, 10, 5, 5]),
    // Headers not walked: web-1's composition is left out rather than undercounted.
    podArchive('web-1', '2026-03-01T01:00:00Z', 70),
  ];
  const view = { snapshot: () => inventorySnapshot(archives), status: () => inventoryStatus(createArchiveIndex(), [], { identifiedBytes: 220 }) };

  it('one series per pod per family, labelled namespace and pod only', () => {
    const text = renderPodArchiveFamilies(view);
    const web0 = { namespace: 'default', pod: 'web-0' };
    expect(sampleValue(text, 'checkpoint_pod_archives', web0)).toBe(2);
    expect(sampleValue(text, 'checkpoint_pod_archive_bytes', web0)).toBe(150);
    expect(sampleValue(text, 'checkpoint_pod_archive_oldest_timestamp_seconds', web0)).toBe(Date.parse('2026-03-01T00:00:00Z') / 1000);
    expect(sampleValue(text, 'checkpoint_pod_archive_newest_timestamp_seconds', web0)).toBe(Date.parse('2026-03-01T02:00:00Z') / 1000);
    expect(sampleValue(text, 'checkpoint_pod_archives_pinned', web0)).toBe(1);
    expect(sampleValue(text, 'checkpoint_pod_archive_content_bytes', { ...web0, part: 'memory' })).toBe(90);
    expect(sampleValue(text, 'checkpoint_pod_archive_content_bytes', { ...web0, part: 'other' })).toBe(15);
    expect(sampleValue(text, 'checkpoint_pod_archives', { namespace: 'default', pod: 'web-1' })).toBe(1);
    expect(text).not.toMatch(/checkpoint_pod_archive_content_bytes\{namespace="default",pod="web-1"/);
    expect(text).not.toMatch(/checkpoint_pod_archives_pinned\{namespace="default",pod="web-1"/);
    for (const line of text.split('\n').filter((l) => l.startsWith('checkpoint_pod_') && l.includes('{'))) {
      expect(line).toMatch(/^checkpoint_pod_[a-z_]+\{namespace="[^"]+",pod="[^"]+"(,part="[a-z_]+")?\} /);
    }
    // Without an API server there is no orphan family at all.
    expect(text).not.toContain('checkpoint_pod_archives_orphaned');
  });

  it('with the objects known: referenced and orphaned per pod', () => {
    const text = renderPodArchiveFamilies({ ...view, references: () => new Set([archives[0]!.fileName]) });
    expect(sampleValue(text, 'checkpoint_pod_archives_referenced', { namespace: 'default', pod: 'web-0' })).toBe(1);
    expect(sampleValue(text, 'checkpoint_pod_archives_orphaned', { namespace: 'default', pod: 'web-0' })).toBe(1);
    expect(sampleValue(text, 'checkpoint_pod_archives_orphaned', { namespace: 'default', pod: 'web-1' })).toBe(1);
    expect(sampleValue(text, 'checkpoint_pod_archives_referenced', { namespace: 'default', pod: 'web-1' })).toBeUndefined();
  });

  it('identity conflicts: one unlabelled number for the node, 0 when none, absent while the objects are not known', () => {
    expect(renderPodArchiveFamilies(view)).not.toContain('checkpoint_pod_archive_identity_conflicts');
    expect(renderPodArchiveFamilies({ ...view, identityConflicts: () => undefined })).not.toContain('checkpoint_pod_archive_identity_conflicts');
    expect(sampleValue(renderPodArchiveFamilies({ ...view, identityConflicts: () => 0 }), 'checkpoint_pod_archive_identity_conflicts')).toBe(0);
    const text = renderPodArchiveFamilies({ ...view, identityConflicts: () => 2 });
    expect(sampleValue(text, 'checkpoint_pod_archive_identity_conflicts')).toBe(2);
    expect(text).toContain('# TYPE checkpoint_pod_archive_identity_conflicts gauge\n');
    expect(text).toMatch(/^checkpoint_pod_archive_identity_conflicts 2$/m);
  });
});
