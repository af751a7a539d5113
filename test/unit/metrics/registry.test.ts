import { describe, expect, it } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { pino } from 'pino';
import { containerKeyOf, createArchiveIndex, type MutableArchiveIndex } from '../../../src/inventory/archive-index.js';
import type { ArchiveRecord, UnrecognizedFile } from '../../../src/inventory/types.js';
import type { ExporterView } from '../../../src/metrics/exporter-view.js';
import { createExporterRegistry, registerExporterCollectors } from '../../../src/metrics/registry.js';
import { mergePolicies } from '../../../src/retention/merge-policies.js';
import type { DiskStats, OwnerLookup, PlannedDeletion, RetentionPlan } from '../../../src/retention/types.js';
import { policyOf } from '../retention/builders.js';
import { findBinary } from '../../support/binaries.js';
import { sampleValue as sample } from '../../support/metrics-text.js';
import { archiveRecord, inventoryStatus } from '../../support/snapshots.js';
import { waitUntil } from '../../support/wait.js';

const cart = { namespace: 'shop-prod', pod: 'cart-0', container: 'cart-api' };
const web = { namespace: 'web', pod: 'front-7d9f', container: 'nginx' };

interface State {
  readonly index: MutableArchiveIndex;
  unrecognized: UnrecognizedFile[];
}

function inventoryOf(records: readonly ArchiveRecord[], unrecognized: UnrecognizedFile[] = []): State {
  const index = createArchiveIndex();
  for (const record of records) index.add(record);
  return { index, unrecognized };
}

function makeView(state: State, overrides: Partial<ExporterView> = {}): ExporterView {
  return {
    index: () => state.index,
    status: () => inventoryStatus(state.index, state.unrecognized),
    owners: () => undefined,
    lastPlan: () => undefined,
    lastRetentionRunMs: () => undefined,
    policy: () => mergePolicies([]),
    kubernetesApiUp: () => false,
    configStatus: () => ({ lastReloadSuccessful: true, lastSuccessMs: undefined }),
    diskStats: async (): Promise<DiskStats> => ({ sizeBytes: 1000, freeBytes: 400, availBytes: 300 }),
    work: () => ({ snapshotBuilds: 0, fullRuns: 0, scopedRuns: 0, archivesPlanned: 0 }),
    dryRun: false,
    version: '9.9.9',
    ...overrides,
  };
}

/** The registry and collectors as the exporter wires them; per-container lines rendered as after the initial scan. */
function exporterMetrics(view: ExporterView) {
  const { registry, retention } = createExporterRegistry();
  const metrics = registerExporterCollectors(registry, view, pino({ level: 'silent' }));
  metrics.containers.rebuild();
  return { registry, retention, metrics };
}

describe('exporter metrics', () => {
  const records = (): ArchiveRecord[] => [
    archiveRecord(cart, { timestamp: '2026-01-01T10:00:00Z', size: 100 }),
    archiveRecord(cart, { timestamp: '2026-01-01T11:00:00Z', size: 200, pinned: true }),
    archiveRecord(web, { timestamp: '2026-01-02T00:00:00+05:30', size: 50 }),
    archiveRecord(undefined, { timestamp: '2026-01-03T00:00:00Z', size: 70 }),
  ];

  it('computes per-container and directory gauges from the inventory at scrape time', async () => {
    const list = records();
    const state = inventoryOf(list, [{ fileName: 'notes.txt', size: 9 }]);
    const { metrics } = exporterMetrics(makeView(state));
    expect(metrics.contentType).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await metrics.scrape();
    expect(sample(text, 'checkpoint_archives', cart)).toBe(2);
    expect(sample(text, 'checkpoint_archive_bytes', cart)).toBe(300);
    expect(sample(text, 'checkpoint_archives_pinned', cart)).toBe(1);
    // Series economy: a container with nothing pinned has no pinned series (it was 0).
    expect(sample(text, 'checkpoint_archives_pinned', web)).toBeUndefined();
    expect(sample(text, 'checkpoint_archives', web)).toBe(1);
    expect(sample(text, 'checkpoint_archive_oldest_timestamp_seconds', cart)).toBe(Date.parse('2026-01-01T10:00:00Z') / 1000);
    expect(sample(text, 'checkpoint_archive_newest_timestamp_seconds', cart)).toBe(Date.parse('2026-01-01T11:00:00Z') / 1000);
    expect(sample(text, 'checkpoint_archive_oldest_timestamp_seconds', web)).toBe(Date.parse('2026-01-02T00:00:00+05:30') / 1000);
    expect(sample(text, 'checkpoint_unidentified_archives')).toBe(1);
    expect(sample(text, 'checkpoint_unidentified_archive_bytes')).toBe(70);
    expect(sample(text, 'checkpoint_unrecognized_files')).toBe(1);
    expect(sample(text, 'checkpoint_unrecognized_file_bytes')).toBe(9);
    expect(sample(text, 'checkpoint_pending_archives')).toBe(0);
    expect(sample(text, 'checkpoint_directory_present')).toBe(1);
    expect(sample(text, 'checkpoint_initial_scan_complete')).toBe(1);
    expect(sample(text, 'checkpoint_filesystem_avail_bytes')).toBe(300);
    expect(sample(text, 'checkpoint_filesystem_size_bytes')).toBe(1000);
    expect(sample(text, 'checkpoint_exporter_build_info', { version: '9.9.9' })).toBe(1);
    expect(sample(text, 'checkpoint_retention_errors_total', { operation: 'unlink' })).toBe(0);
    expect(sample(text, 'checkpoint_retention_planned_deletions', { reason: 'count' })).toBe(0);
    expect(text).not.toMatch(/nodejs_active_\w+_total/);
    expect(text).toMatch(/^process_cpu_user_seconds_total /m);

    // The container's archives are gone and the change names it: its series disappear on the next scrape.
    for (const record of [list[0]!, list[1]!, list[3]!]) state.index.remove(record);
    state.unrecognized = [];
    metrics.containers.update([containerKeyOf(cart)]);
    const after = await metrics.scrape();
    expect(sample(after, 'checkpoint_archives', cart)).toBeUndefined();
    expect(sample(after, 'checkpoint_archive_bytes', cart)).toBeUndefined();
    expect(sample(after, 'checkpoint_archives', web)).toBe(1);
    expect(sample(after, 'checkpoint_unidentified_archives')).toBe(0);
    expect(sample(after, 'checkpoint_unidentified_archive_bytes')).toBe(0);
    expect(sample(after, 'checkpoint_unrecognized_files')).toBe(0);
  });

  it('reports the directory as the inventory status says, leaving unknown scan figures out', async () => {
    const state = inventoryOf([]);
    const { metrics } = exporterMetrics(
      makeView(state, {
        status: () => inventoryStatus(state.index, [], { directoryPresent: false, initialScanComplete: false, pendingArchives: 4, lastScanTimestampMs: undefined, lastScanDurationSeconds: undefined }),
      }),
    );
    const text = await metrics.scrape();
    expect(sample(text, 'checkpoint_directory_present')).toBe(0);
    // Missing is not unreadable: nothing failed but the directory's absence.
    expect(sample(text, 'checkpoint_directory_readable')).toBe(1);
    expect(sample(text, 'checkpoint_initial_scan_complete')).toBe(0);
    expect(sample(text, 'checkpoint_pending_archives')).toBe(4);
    expect(sample(text, 'checkpoint_last_scan_timestamp_seconds')).toBeUndefined();
    expect(sample(text, 'checkpoint_scan_duration_seconds')).toBeUndefined();
  });

  it('tells an unreadable directory from a missing one, and counts scans by reason and errors by operation', async () => {
    const state = inventoryOf([]);
    const { metrics } = exporterMetrics(
      makeView(state, {
        status: () =>
          inventoryStatus(state.index, [], {
            directoryPresent: true,
            directoryReadable: false,
            directoryProblem: 'cannot watch it: EACCES: permission denied',
            scanErrors: { stat: 0, watch: 2, readdir: 1, lstat: 0 },
            resyncs: { initial: 1, periodic: 3, events_lost: 1, unreported_change: 2, directory_event: 0, unreadable_retry: 5 },
          }),
      }),
    );
    const text = await metrics.scrape();
    expect(sample(text, 'checkpoint_directory_present')).toBe(1);
    expect(sample(text, 'checkpoint_directory_readable')).toBe(0);
    expect(sample(text, 'checkpoint_scan_errors_total', { operation: 'watch' })).toBe(2);
    expect(sample(text, 'checkpoint_scan_errors_total', { operation: 'readdir' })).toBe(1);
    expect(sample(text, 'checkpoint_scan_errors_total', { operation: 'stat' })).toBe(0);
    expect(sample(text, 'checkpoint_inventory_resyncs_total', { reason: 'events_lost' })).toBe(1);
    expect(sample(text, 'checkpoint_inventory_resyncs_total', { reason: 'unreported_change' })).toBe(2);
    expect(sample(text, 'checkpoint_inventory_resyncs_total', { reason: 'unreadable_retry' })).toBe(5);
  });

  it('leaves filesystem gauges out, not zero, when statfs fails; retention counts its own statfs errors', async () => {
    const view = makeView(inventoryOf(records()), { diskStats: () => Promise.reject(new Error('ENOENT')) });
    const { registry, metrics } = exporterMetrics(view);
    const text = await metrics.scrape();
    expect(sample(text, 'checkpoint_filesystem_avail_bytes')).toBeUndefined();
    expect(sample(text, 'checkpoint_filesystem_size_bytes')).toBeUndefined();
    const errors = await registry.getSingleMetric('checkpoint_retention_errors_total')!.get();
    expect(errors.values.find((v) => v.labels['operation'] === 'statfs')?.value).toBe(0);
  });

  it('exports plan, limits, orphans and deletion counters', async () => {
    const list = records();
    const deletion: PlannedDeletion = {
      fileName: list[0]!.fileName,
      fingerprint: list[0]!.fingerprint,
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
    const view = makeView(inventoryOf(list), { lastPlan: () => plan, owners: () => owners, lastRetentionRunMs: () => 5000, kubernetesApiUp: () => true });
    const { retention, metrics } = exporterMetrics(view);
    retention.observer.onDeleted(deletion, 100);
    const text = await metrics.scrape();
    expect(sample(text, 'checkpoint_retention_planned_deletions', { reason: 'count' })).toBe(1);
    expect(sample(text, 'checkpoint_retention_planned_deletions', { reason: 'age' })).toBe(0);
    expect(sample(text, 'checkpoint_retention_limit_archives', cart)).toBe(1);
    expect(sample(text, 'checkpoint_retention_limit_unsatisfiable', { ...cart, limit: 'count' })).toBe(1);
    // The default policy's one limit, once for the node.
    expect(sample(text, 'checkpoint_retention_global_limit_archives', { level: 'container' })).toBe(10);
    expect(text.split('\n').filter((line) => line.startsWith('checkpoint_retention_global_limit_archives{'))).toHaveLength(1);
    expect(sample(text, 'checkpoint_archives_orphaned', web)).toBe(1);
    // Series economy: a container that is not orphaned has no orphaned series (it was 0).
    expect(sample(text, 'checkpoint_archives_orphaned', cart)).toBeUndefined();
    expect(sample(text, 'checkpoint_retention_deletions_total', { namespace: 'shop-prod', reason: 'count' })).toBe(1);
    expect(sample(text, 'checkpoint_retention_deleted_bytes_total', { namespace: 'shop-prod', reason: 'count' })).toBe(100);
    expect(sample(text, 'checkpoint_retention_last_run_timestamp_seconds')).toBe(5);
    expect(sample(text, 'checkpoint_kubernetes_api_up')).toBe(1);
  });

  it('sets limits again when the plan or the policy changes, dropping series no longer in force', async () => {
    const limitOf = (value: number): RetentionPlan => ({ deletions: [], unsatisfiable: [], effectiveLimits: [{ ...cart, limit: 'count', value, policySource: 'CR' }] });
    let plan: RetentionPlan | undefined = limitOf(3);
    let policy = mergePolicies([]);
    const { metrics } = exporterMetrics(makeView(inventoryOf(records()), { lastPlan: () => plan, policy: () => policy }));
    expect(sample(await metrics.scrape(), 'checkpoint_retention_limit_archives', cart)).toBe(3);

    plan = limitOf(4);
    expect(sample(await metrics.scrape(), 'checkpoint_retention_limit_archives', cart)).toBe(4);
    plan = { deletions: [], unsatisfiable: [], effectiveLimits: [] };
    expect(sample(await metrics.scrape(), 'checkpoint_retention_limit_archives', cart)).toBeUndefined();

    policy = policyOf({ globalPolicy: { maxCheckpointsPerContainer: 5, maxCheckpointsPerNamespace: 50 } });
    const text = await metrics.scrape();
    expect(sample(text, 'checkpoint_retention_global_limit_archives', { level: 'container' })).toBe(5);
    expect(sample(text, 'checkpoint_retention_global_limit_archives', { level: 'namespace' })).toBe(50);
  });

  const COLLECTORS = ['inventory', 'retention', 'filesystem', 'limits', 'containers'];
  /** The collectors named in a scrape's status family, in the order they appear. */
  const statusCollectors = (text: string, family: string): string[] =>
    [...text.matchAll(new RegExp(`^${family}\\{collector="([a-z]+)"\\} \\S+$`, 'gm'))].map((match) => match[1]!);

  it('reports every collector with its success and duration on the very first scrape', async () => {
    const { metrics } = exporterMetrics(makeView(inventoryOf(records())));
    const text = await metrics.scrape();
    expect(statusCollectors(text, 'checkpoint_exporter_collector_success')).toEqual(COLLECTORS);
    expect(statusCollectors(text, 'checkpoint_exporter_collector_duration_seconds')).toEqual(COLLECTORS);
    for (const collector of COLLECTORS) {
      expect(sample(text, 'checkpoint_exporter_collector_success', { collector })).toBe(1);
      expect(sample(text, 'checkpoint_exporter_collector_duration_seconds', { collector })).toBeGreaterThanOrEqual(0);
    }
    expect(text.match(/^# TYPE checkpoint_exporter_collector_(success|duration_seconds) gauge$/gm)).toHaveLength(2);
  });

  // Each collector broken through a part of the view it reads, a sample of one of its families, and the other collectors that read that part too.
  const breakages: ReadonlyArray<{ collector: string; broken: (fail: () => never) => Partial<ExporterView>; family: [string, Record<string, string>]; alsoFailing?: string[] }> = [
    { collector: 'inventory', broken: (fail) => ({ status: fail }), family: ['checkpoint_pending_archives', {}] },
    { collector: 'inventory', broken: (fail) => ({ status: fail }), family: ['checkpoint_scan_errors_total', { operation: 'readdir' }] },
    { collector: 'retention', broken: (fail) => ({ work: fail }), family: ['checkpoint_retention_runs_total', { kind: 'full' }] },
    { collector: 'retention', broken: (fail) => ({ lastRetentionRunMs: fail }), family: ['checkpoint_retention_last_run_timestamp_seconds', {}] },
    { collector: 'retention', broken: (fail) => ({ lastPlan: fail }), family: ['checkpoint_retention_planned_deletions', { reason: 'count' }], alsoFailing: ['limits'] },
    { collector: 'filesystem', broken: () => ({ diskStats: () => Promise.reject(new Error('EIO')) }), family: ['checkpoint_filesystem_avail_bytes', {}] },
    { collector: 'limits', broken: (fail) => ({ policy: fail }), family: ['checkpoint_retention_global_limit_archives', { level: 'container' }] },
    { collector: 'containers', broken: (fail) => ({ owners: fail }), family: ['checkpoint_archives', cart] },
  ];

  it.each(breakages)('reports $collector as 0 in the scrape it fails ($family.0 missing), as 1 in the next that succeeds, and never a stale value', async ({ collector, broken, family, alsoFailing = [] }) => {
    let failing = true;
    const healthy = makeView(inventoryOf(records()), { lastRetentionRunMs: () => 5000 });
    const fail = (): never => {
      throw new Error(`${collector} unavailable`);
    };
    const breaking = broken(fail);
    // Every part of the view answers healthily except, while `failing`, the one broken for this collector.
    const view: ExporterView = { ...healthy };
    for (const key of Object.keys(breaking) as (keyof ExporterView)[]) {
      const sound = healthy[key] as (...args: unknown[]) => unknown;
      const broke = breaking[key] as (...args: unknown[]) => unknown;
      Object.assign(view, { [key]: (...args: unknown[]) => (failing ? broke(...args) : sound(...args)) });
    }
    const { metrics } = exporterMetrics(view);
    const [name, labels] = family;

    const first = await metrics.scrape();
    expect(sample(first, 'checkpoint_exporter_collector_success', { collector })).toBe(0);
    expect(sample(first, name, labels)).toBeUndefined();
    for (const other of COLLECTORS.filter((c) => c !== collector)) expect(sample(first, 'checkpoint_exporter_collector_success', { collector: other })).toBe(alsoFailing.includes(other) ? 0 : 1);
    for (const any of COLLECTORS) expect(sample(first, 'checkpoint_exporter_collector_duration_seconds', { collector: any })).toBeGreaterThanOrEqual(0);

    failing = false;
    const second = await metrics.scrape();
    expect(sample(second, 'checkpoint_exporter_collector_success', { collector })).toBe(1);
    expect(sample(second, name, labels)).toBeDefined();

    failing = true;
    const third = await metrics.scrape();
    expect(sample(third, 'checkpoint_exporter_collector_success', { collector })).toBe(0);
    expect(sample(third, name, labels)).toBeUndefined();
  });

  it('keeps two concurrent scrapes apart: only the one whose statfs fails reports the filesystem as 0', async () => {
    const statfs: { resolve: (stats: DiskStats) => void; reject: (error: Error) => void }[] = [];
    const { metrics } = exporterMetrics(
      makeView(inventoryOf(records()), { diskStats: () => new Promise<DiskStats>((resolve, reject) => statfs.push({ resolve, reject })) }),
    );
    const failed = metrics.scrape();
    const served = metrics.scrape();
    // Both scrapes are inside their collection, each waiting on a statfs of its own.
    await waitUntil(() => statfs.length === 2, 'a statfs per scrape');
    statfs[0]!.reject(new Error('EIO'));
    statfs[1]!.resolve({ sizeBytes: 1000, freeBytes: 400, availBytes: 300 });
    const [a, b] = await Promise.all([failed, served]);
    expect(sample(a, 'checkpoint_exporter_collector_success', { collector: 'filesystem' })).toBe(0);
    expect(sample(a, 'checkpoint_filesystem_avail_bytes')).toBeUndefined();
    expect(sample(b, 'checkpoint_exporter_collector_success', { collector: 'filesystem' })).toBe(1);
    expect(sample(b, 'checkpoint_filesystem_avail_bytes')).toBe(300);
    for (const text of [a, b]) {
      expect(statusCollectors(text, 'checkpoint_exporter_collector_success')).toEqual(COLLECTORS);
      for (const collector of COLLECTORS.filter((c) => c !== 'filesystem')) expect(sample(text, 'checkpoint_exporter_collector_success', { collector })).toBe(1);
    }
  });

  it('times retention runs in a histogram by kind', async () => {
    const { retention, metrics } = exporterMetrics(makeView(inventoryOf(records())));
    retention.observeRun?.('full', 0.25);
    retention.observeRun?.('scoped', 0.002);
    const text = await metrics.scrape();
    expect(sample(text, 'checkpoint_retention_run_duration_seconds_count', { kind: 'full' })).toBe(1);
    expect(sample(text, 'checkpoint_retention_run_duration_seconds_sum', { kind: 'full' })).toBe(0.25);
    expect(sample(text, 'checkpoint_retention_run_duration_seconds_bucket', { kind: 'scoped', le: '0.005' })).toBe(1);
  });

  it('exports the work counters from the view', async () => {
    const { metrics } = exporterMetrics(makeView(inventoryOf([]), { work: () => ({ snapshotBuilds: 2, fullRuns: 3, scopedRuns: 7, archivesPlanned: 11 }) }));
    const text = await metrics.scrape();
    expect(sample(text, 'checkpoint_retention_runs_total', { kind: 'full' })).toBe(3);
    expect(sample(text, 'checkpoint_retention_runs_total', { kind: 'scoped' })).toBe(7);
    expect(sample(text, 'checkpoint_retention_planned_archives_total')).toBe(11);
    expect(sample(text, 'checkpoint_inventory_snapshot_builds_total')).toBe(2);
  });

  it('keeps node-level totals but no per-container family when per-container metrics are off', async () => {
    const owners: OwnerLookup = () => ({ state: 'orphan', sinceMs: 0 });
    const { metrics } = exporterMetrics(makeView(inventoryOf(records()), { containerMetrics: false, owners: () => owners }));
    const text = await metrics.scrape();
    for (const family of ['checkpoint_archives', 'checkpoint_archive_bytes', 'checkpoint_archives_pinned', 'checkpoint_archives_orphaned']) {
      expect(text).not.toMatch(new RegExp(`^(# TYPE )?${family}[{ ]`, 'm'));
    }
    expect(sample(text, 'checkpoint_unidentified_archives')).toBe(1);
    expect(sample(text, 'checkpoint_filesystem_avail_bytes')).toBe(300);
  });

  const promtool = findBinary('promtool', 'prometheus');
  (promtool ? it : it.skip)('passes promtool check metrics', async () => {
    const { metrics } = exporterMetrics(makeView(inventoryOf(records(), [{ fileName: 'notes.txt', size: 9 }])));
    const output = execFileSync(promtool!, ['check', 'metrics'], { input: await metrics.scrape(), encoding: 'utf8' });
    expect(output).toBe('');
  });
});
