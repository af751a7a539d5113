import { Gauge, type Registry } from 'prom-client';
import type { Logger } from 'pino';
import type { CollectorStatus } from './collector.js';
import type { ExporterView } from './exporter-view.js';

/** statfs of the filesystem holding the checkpoint directory, read once per scrape for both gauges. */
export function registerFilesystemCollector(
  registry: Registry,
  view: ExporterView,
  logger: Logger,
  status?: CollectorStatus,
): void {
  let pending: Promise<void> | undefined;
  const statfs = (): ReturnType<ExporterView['diskStats']> => (status === undefined ? view.diskStats() : status.time('filesystem', () => view.diskStats()));
  const read = (): Promise<void> => {
    // Both gauges collect concurrently within one scrape; share a single statfs call between them.
    pending ??= statfs()
      .then(
        (stats) => {
          size.set(stats.sizeBytes);
          avail.set(stats.availBytes);
        },
        (error: unknown) => {
          // Absent, not 0: a zero avail would look like a full disk to the alerts.
          size.remove();
          avail.remove();
          logger.warn({ err: error }, 'statfs of the checkpoint directory failed');
        },
      )
      .finally(() => {
        pending = undefined;
      });
    return pending;
  };
  const size: Gauge = new Gauge({
    name: 'checkpoint_filesystem_size_bytes',
    help: 'Size of the filesystem holding the checkpoint directory.',
    registers: [registry],
    collect: read,
  });
  const avail: Gauge = new Gauge({
    name: 'checkpoint_filesystem_avail_bytes',
    help: 'Bytes available to unprivileged users on the filesystem holding the checkpoint directory.',
    registers: [registry],
    collect: read,
  });
}
