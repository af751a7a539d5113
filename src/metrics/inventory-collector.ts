import { Gauge, type Registry } from 'prom-client';
import type { Logger } from 'pino';
import type { InventorySnapshot } from '../inventory/types.js';
import { summarizeInventory, type InventorySummary } from './container-summary.js';
import { safeCollect } from './collector.js';
import type { ExporterView } from './exporter-view.js';

const CONTAINER_LABELS = ['namespace', 'pod', 'container'] as const;

/** Per-container and directory-wide inventory gauges, all derived from one snapshot per scrape. */
export function registerInventoryCollector(registry: Registry, view: ExporterView, logger: Logger): void {
  // The inventory caches its snapshot until something changes, so one summary serves every gauge of a scrape.
  const summaries = new WeakMap<InventorySnapshot, InventorySummary>();
  const summary = (): { snapshot: InventorySnapshot; summary: InventorySummary } => {
    const snapshot = view.snapshot();
    let cached = summaries.get(snapshot);
    if (!cached) {
      cached = summarizeInventory(snapshot);
      summaries.set(snapshot, cached);
    }
    return { snapshot, summary: cached };
  };

  const perContainer = (name: string, help: string, value: (c: InventorySummary['containers'][number]) => number): void => {
    const gauge: Gauge<(typeof CONTAINER_LABELS)[number]> = new Gauge({
      name,
      help,
      labelNames: CONTAINER_LABELS,
      registers: [registry],
      collect: safeCollect(name, logger, () => {
        // reset() first so the series of a container whose archives are gone disappear.
        gauge.reset();
        for (const c of summary().summary.containers) {
          gauge.set({ namespace: c.namespace, pod: c.pod, container: c.container }, value(c));
        }
      }),
    });
  };

  perContainer('checkpoint_archives', 'Settled checkpoint archives identified for the container.', (c) => c.archives);
  perContainer('checkpoint_archive_bytes', 'Bytes of the settled checkpoint archives of the container.', (c) => c.bytes);
  perContainer(
    'checkpoint_archive_oldest_timestamp_seconds',
    'Time written in the name of the oldest archive of the container, in seconds since the epoch.',
    (c) => c.oldestTimestampMs / 1000,
  );
  perContainer(
    'checkpoint_archive_newest_timestamp_seconds',
    'Time written in the name of the newest archive of the container, in seconds since the epoch.',
    (c) => c.newestTimestampMs / 1000,
  );
  perContainer('checkpoint_archives_pinned', 'Archives of the container pinned by a .keep file; never deleted.', (c) => c.pinned);

  const orphaned: Gauge<(typeof CONTAINER_LABELS)[number]> = new Gauge({
    name: 'checkpoint_archives_orphaned',
    help: 'Archives of the container whose pod or container no longer exists, as last seen by the Kubernetes API.',
    labelNames: CONTAINER_LABELS,
    registers: [registry],
    collect: safeCollect('checkpoint_archives_orphaned', logger, () => {
      orphaned.reset();
      const owners = view.owners();
      for (const c of summary().summary.containers) {
        const identity = { namespace: c.namespace, pod: c.pod, container: c.container };
        const isOrphan = owners !== undefined && owners(identity).state === 'orphan';
        orphaned.set(identity, isOrphan ? c.archives : 0);
      }
    }),
  });

  const scalar = (name: string, help: string, value: (s: { snapshot: InventorySnapshot; summary: InventorySummary }) => number | undefined): void => {
    const gauge: Gauge = new Gauge({
      name,
      help,
      registers: [registry],
      collect: safeCollect(name, logger, () => {
        const v = value(summary());
        // An unknown value is left out rather than reported as 0.
        if (v === undefined) gauge.remove();
        else gauge.set(v);
      }),
    });
  };

  scalar('checkpoint_unidentified_archives', 'Archives whose spec.dump gave no complete, consistent identity; never deleted by policy limits.', (s) => s.summary.unidentifiedArchives);
  scalar('checkpoint_unidentified_archive_bytes', 'Bytes of unidentified archives.', (s) => s.summary.unidentifiedBytes);
  scalar('checkpoint_unrecognized_files', 'Files in the checkpoint directory that are neither archives nor pins.', (s) => s.summary.unrecognizedFiles);
  scalar('checkpoint_unrecognized_file_bytes', 'Bytes of unrecognized files in the checkpoint directory.', (s) => s.summary.unrecognizedBytes);
  scalar('checkpoint_pending_archives', 'Archive-named files still being written (not settled yet).', (s) => s.snapshot.pendingArchives);
  scalar('checkpoint_directory_present', '1 when the checkpoint directory exists.', (s) => (s.snapshot.directoryPresent ? 1 : 0));
  scalar('checkpoint_scan_duration_seconds', 'Duration of the last full scan of the checkpoint directory.', (s) => s.snapshot.lastScanDurationSeconds);
  scalar(
    'checkpoint_last_scan_timestamp_seconds',
    'Time of the last full scan of the checkpoint directory, in seconds since the epoch.',
    (s) => (s.snapshot.lastScanTimestampMs === undefined ? undefined : s.snapshot.lastScanTimestampMs / 1000),
  );
}
