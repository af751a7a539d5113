import { describe, expect, it } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { pino } from 'pino';
import type { InventorySnapshot } from '../../../src/inventory/types.js';
import type { ExporterView } from '../../../src/metrics/exporter-view.js';
import { createExporterMetrics } from '../../../src/metrics/registry.js';
import type { DiskStats, OwnerLookup, PlannedDeletion, RetentionPlan } from '../../../src/retention/types.js';
import { findBinary } from '../../support/binaries.js';
import { sampleValue as sample } from '../../support/metrics-text.js';
import { archiveRecord, inventorySnapshot } from '../../support/snapshots.js';

const cart = { namespace: 'shop-prod', pod: 'cart-0', container: 'cart-api' };
const web = { namespace: 'web', pod: 'front-7d9f', container: 'nginx' };

function makeView(overrides: Partial<ExporterView> & { state: { snapshot: InventorySnapshot } }): ExporterView {
  return {
    snapshot: () => overrides.state.snapshot,
    owners: () => undefined,
    lastPlan: () => undefined,
    lastRetentionRunMs: () => undefined,
    kubernetesApiUp: () => false,
    configStatus: () => ({ lastReloadSuccessful: true, lastSuccessMs: undefined }),
    diskStats: async (): Promise<DiskStats> => ({ sizeBytes: 1000, freeBytes: 400, availBytes: 300 }),
    dryRun: false,
    version: '9.9.9',
    ...overrides,
  };
}

describe('exporter metrics', () => {
  const snapshot = inventorySnapshot(
    [
      archiveRecord(cart, { timestamp: '2026-01-01T10:00:00Z', size: 100 }),
      archiveRecord(cart, { timestamp: '2026-01-01T11:00:00Z', size: 200, pinned: true }),
      archiveRecord(web, { timestamp: '2026-01-02T00:00:00+05:30', size: 50 }),
      archiveRecord(undefined, { timestamp: '2026-01-03T00:00:00Z', size: 70 }),
    ],
    [{ fileName: 'notes.txt', size: 9 }],
  );

  it('computes per-container and directory gauges from the snapshot at scrape time', async () => {
    const state = { snapshot };
    const { registry } = createExporterMetrics(makeView({ state }), pino({ level: 'silent' }));
    const text = await registry.metrics();
    expect(sample(text, 'checkpoint_archives', cart)).toBe(2);
    expect(sample(text, 'checkpoint_archive_bytes', cart)).toBe(300);
    expect(sample(text, 'checkpoint_archives_pinned', cart)).toBe(1);
    expect(sample(text, 'checkpoint_archives_pinned', web)).toBe(0);
    expect(sample(text, 'checkpoint_archive_oldest_timestamp_seconds', cart)).toBe(Date.parse('2026-01-01T10:00:00Z') / 1000);
    expect(sample(text, 'checkpoint_archive_newest_timestamp_seconds', cart)).toBe(Date.parse('2026-01-01T11:00:00Z') / 1000);
    expect(sample(text, 'checkpoint_unidentified_archives')).toBe(1);
    expect(sample(text, 'checkpoint_unidentified_archive_bytes')).toBe(70);
    expect(sample(text, 'checkpoint_unrecognized_files')).toBe(1);
    expect(sample(text, 'checkpoint_unrecognized_file_bytes')).toBe(9);
    expect(sample(text, 'checkpoint_filesystem_avail_bytes')).toBe(300);
    expect(sample(text, 'checkpoint_filesystem_size_bytes')).toBe(1000);
    expect(sample(text, 'checkpoint_exporter_build_info', { version: '9.9.9' })).toBe(1);
    expect(sample(text, 'checkpoint_retention_errors_total', { operation: 'unlink' })).toBe(0);
    expect(sample(text, 'checkpoint_retention_planned_deletions', { reason: 'count' })).toBe(0);
    expect(text).not.toMatch(/nodejs_active_\w+_total/);
    expect(text).toMatch(/^process_cpu_user_seconds_total /m);

    // The container's archives are gone: its series disappear on the next scrape.
    state.snapshot = inventorySnapshot([snapshot.archives[2]!]);
    const after = await registry.metrics();
    expect(sample(after, 'checkpoint_archives', cart)).toBeUndefined();
    expect(sample(after, 'checkpoint_archives', web)).toBe(1);
    expect(sample(after, 'checkpoint_unidentified_archives')).toBe(0);
  });

  it('leaves filesystem gauges out, not zero, when statfs fails; retention counts its own statfs errors', async () => {
    const view = makeView({ state: { snapshot }, diskStats: () => Promise.reject(new Error('ENOENT')) });
    const { registry } = createExporterMetrics(view, pino({ level: 'silent' }));
    const text = await registry.metrics();
    expect(sample(text, 'checkpoint_filesystem_avail_bytes')).toBeUndefined();
    expect(sample(text, 'checkpoint_filesystem_size_bytes')).toBeUndefined();
    const errors = await registry.getSingleMetric('checkpoint_retention_errors_total')!.get();
    expect(errors.values.find((v) => v.labels['operation'] === 'statfs')?.value).toBe(0);
  });

  it('exports plan, limits, orphans and deletion counters', async () => {
    const deletion: PlannedDeletion = {
      fileName: snapshot.archives[0]!.fileName,
      fingerprint: snapshot.archives[0]!.fingerprint,
      identity: cart,
      reason: 'count',
      limitValue: 1,
      scope: { level: 'container', ...cart },
      policySource: 'default',
      detail: 'over the limit',
    };
    const plan: RetentionPlan = {
      deletions: [deletion],
      unsatisfiable: [{ ...cart, limit: 'count', value: 1, policySource: 'default', detail: 'pinned' }],
      effectiveLimits: [{ ...cart, limit: 'count', value: 1, policySource: 'default' }],
    };
    const owners: OwnerLookup = (id) => (id.namespace === 'web' ? { state: 'orphan', sinceMs: 0 } : { state: 'alive' });
    const view = makeView({ state: { snapshot }, lastPlan: () => plan, owners: () => owners, lastRetentionRunMs: () => 5000, kubernetesApiUp: () => true });
    const metrics = createExporterMetrics(view, pino({ level: 'silent' }));
    metrics.retention.observer.onDeleted(deletion, 100);
    const text = await metrics.registry.metrics();
    expect(sample(text, 'checkpoint_retention_planned_deletions', { reason: 'count' })).toBe(1);
    expect(sample(text, 'checkpoint_retention_limit', { ...cart, limit: 'count' })).toBe(1);
    expect(sample(text, 'checkpoint_retention_limit_unsatisfiable', { ...cart, limit: 'count' })).toBe(1);
    expect(sample(text, 'checkpoint_archives_orphaned', web)).toBe(1);
    expect(sample(text, 'checkpoint_archives_orphaned', cart)).toBe(0);
    expect(sample(text, 'checkpoint_retention_deletions_total', { namespace: 'shop-prod', reason: 'count' })).toBe(1);
    expect(sample(text, 'checkpoint_retention_deleted_bytes_total', { namespace: 'shop-prod', reason: 'count' })).toBe(100);
    expect(sample(text, 'checkpoint_retention_last_run_timestamp_seconds')).toBe(5);
    expect(sample(text, 'checkpoint_kubernetes_api_up')).toBe(1);
  });

  const promtool = findBinary('promtool', 'prometheus');
  (promtool ? it : it.skip)('passes promtool check metrics', async () => {
    const { registry } = createExporterMetrics(makeView({ state: { snapshot } }), pino({ level: 'silent' }));
    const output = execFileSync(promtool!, ['check', 'metrics'], { input: await registry.metrics(), encoding: 'utf8' });
    expect(output).toBe('');
  });
});
