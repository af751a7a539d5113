import { Counter, Gauge, type Registry } from 'prom-client';
import type { Logger } from 'pino';
import { RESYNC_REASONS, SCAN_OPERATIONS, type InventoryStatus } from '../inventory/types.js';
import { safeCollect, type CollectorStatus } from './collector.js';
import type { ExporterView } from './exporter-view.js';

/** Directory-wide inventory gauges: O(1) each, read from the inventory's running totals at scrape time. */
export function registerInventoryCollector(registry: Registry, view: ExporterView, logger: Logger, status?: CollectorStatus): void {
  const timer = status?.declare('inventory');
  const scalar = (name: string, help: string, value: (status: InventoryStatus) => number | undefined): void => {
    const gauge: Gauge = new Gauge({
      name,
      help,
      registers: [registry],
      collect: safeCollect(
        name,
        logger,
        () => {
          // A value that cannot be read is left out (never a stale or zero value), and the failure is reported.
          gauge.remove();
          const v = value(view.status());
          // An unknown value is left out rather than reported as 0.
          if (v !== undefined) gauge.set(v);
        },
        timer,
      ),
    });
  };

  // Node-level totals of identified archives: what the per-container families sum to, kept so alerts and
  // dashboards work when --no-container-metrics leaves those families out.
  scalar('checkpoint_identified_archives', 'Settled archives with an identity, on this node (the sum of checkpoint_archives).', (s) => s.archives - s.unidentifiedArchives);
  scalar('checkpoint_identified_archive_bytes', 'Bytes of the settled archives with an identity, on this node (the sum of checkpoint_archive_bytes).', (s) => s.identifiedBytes);
  scalar('checkpoint_unidentified_archives', 'Archives whose spec.dump gave no complete, consistent identity; never deleted by policy limits.', (s) => s.unidentifiedArchives);
  scalar('checkpoint_unidentified_archive_bytes', 'Bytes of unidentified archives.', (s) => s.unidentifiedBytes);
  scalar('checkpoint_unrecognized_files', 'Files in the checkpoint directory that are neither archives nor pins.', (s) => s.unrecognizedFiles);
  scalar('checkpoint_unrecognized_file_bytes', 'Bytes of unrecognized files in the checkpoint directory.', (s) => s.unrecognizedBytes);
  scalar(
    'checkpoint_hard_linked_archives',
    'Archives whose inode has other hard links (a backup made with cp -al or rsync --link-dest): deleting one frees no space, so disk pressure does not take them.',
    (s) => s.hardLinkedArchives,
  );
  scalar('checkpoint_hard_linked_archive_bytes', 'Bytes of the hard-linked archives: space that deleting them would not free.', (s) => s.hardLinkedBytes);
  scalar('checkpoint_pending_archives', 'Archive-named files still being written (not settled yet).', (s) => s.pendingArchives);
  scalar('checkpoint_directory_present', '1 when the checkpoint directory exists (0 when it is missing, or when even a stat of it fails).', (s) => (s.directoryPresent ? 1 : 0));
  scalar(
    'checkpoint_directory_readable',
    '0 while stat, watch or listing of the checkpoint directory fails for a reason other than its absence (EACCES, EIO, no inotify watch left): nothing new in it is seen or deleted. 1 otherwise, also while it is missing (see checkpoint_directory_present).',
    (s) => (s.directoryReadable ? 1 : 0),
  );
  const scanErrors: Counter<'operation'> = new Counter({
    name: 'checkpoint_scan_errors_total',
    help: 'Failed stats, watches and readdirs of the checkpoint directory and lstats of its entries; the last known inventory is kept meanwhile.',
    labelNames: ['operation'],
    registers: [registry],
    collect: safeCollect(
      'checkpoint_scan_errors_total',
      logger,
      () => {
        // Emptied first, so a read that fails leaves the family out rather than last scrape's values.
        scanErrors.reset();
        const errors = view.status().scanErrors;
        for (const operation of SCAN_OPERATIONS) scanErrors.inc({ operation }, errors[operation]);
      },
      timer,
    ),
  });
  const resyncs: Counter<'reason'> = new Counter({
    name: 'checkpoint_inventory_resyncs_total',
    help: 'Full scans of the checkpoint directory by reason: initial, periodic, events_lost (a burst that may have overflowed the inotify queue), unreported_change (the directory changed with no event), directory_event, unreadable_retry.',
    labelNames: ['reason'],
    registers: [registry],
    collect: safeCollect(
      'checkpoint_inventory_resyncs_total',
      logger,
      () => {
        resyncs.reset();
        const counts = view.status().resyncs;
        for (const reason of RESYNC_REASONS) resyncs.inc({ reason }, counts[reason]);
      },
      timer,
    ),
  });
  scalar('checkpoint_initial_scan_complete', '1 once every archive present at start has been identified or found unidentified.', (s) => (s.initialScanComplete ? 1 : 0));
  scalar('checkpoint_scan_duration_seconds', 'Duration of the last full scan of the checkpoint directory.', (s) => s.lastScanDurationSeconds);
  scalar(
    'checkpoint_last_scan_timestamp_seconds',
    'Time of the last full scan of the checkpoint directory, in seconds since the epoch.',
    (s) => (s.lastScanTimestampMs === undefined ? undefined : s.lastScanTimestampMs / 1000),
  );
}
