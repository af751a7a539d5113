import { collectDefaultMetrics, Registry } from 'prom-client';
import type { Logger } from 'pino';
import type { ExporterView } from './exporter-view.js';
import { createContainerMetrics, type ContainerMetrics } from './container-metrics.js';
import { createFilesystemFamilies } from './filesystem-collector.js';
import { registerHealthCollector } from './health-collector.js';
import { registerInventoryCollector } from './inventory-collector.js';
import { createCollectorStatus, type CollectorTimer } from './collector.js';
import { renderPodArchiveFamilies } from './pod-archive-metrics.js';
import { createLimitFamilies, createRetentionCounters, registerRetentionGauges, type RetentionMetrics } from './retention-collector.js';

/** prom-client exposes these as gauges named `_total`, which promtool rejects as a counter naming its gauge. */
const REJECTED_DEFAULT_METRICS = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'];

export interface ExporterRegistry {
  readonly registry: Registry;
  readonly retention: RetentionMetrics;
}

export interface ExporterMetrics {
  readonly containers: ContainerMetrics;
  /** The whole exposition: prom-client's families, then the cached per-container text. */
  scrape(): Promise<string>;
  /** The same in chunks, for a response that streams them instead of joining megabytes of text. */
  scrapeChunks(): Promise<(string | Buffer)[]>;
  readonly contentType: string;
}

/** One registry per exporter instance (never the global one), so tests can run several side by side. */
export function createExporterRegistry(): ExporterRegistry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  for (const name of REJECTED_DEFAULT_METRICS) registry.removeSingleMetric(name);
  return { registry, retention: createRetentionCounters(registry) };
}

/** The collectors that read the running exporter through its view, and the scrape that joins them with the cached per-container text. */
export function registerExporterCollectors(registry: Registry, view: ExporterView, logger: Logger): ExporterMetrics {
  const status = createCollectorStatus();
  registerInventoryCollector(registry, view, logger, status);
  registerRetentionGauges(registry, view, logger, status);
  registerHealthCollector(registry, view);
  const containers = createContainerMetrics(() => view.index(), view.containerMetrics ?? true);
  const filesystem = createFilesystemFamilies(view);
  const limits = createLimitFamilies(view);
  // Families rendered as text beside prom-client's: a failure logs and leaves them out of this scrape.
  const rendered = (collector: string): (<T>(render: () => T | Promise<T>, fallback: T) => Promise<T>) => {
    const timer: CollectorTimer = status.declare(collector);
    return async (render, fallback) => {
      try {
        return await timer(render);
      } catch (error) {
        logger.error({ err: error, collector }, 'metrics collector failed');
        return fallback;
      }
    };
  };
  const renderFilesystem = rendered('filesystem');
  const renderLimits = rendered('limits');
  const renderContainers = rendered('containers');
  const renderPodArchives = rendered('pod_archives');
  const { podArchives } = view;
  return {
    containers,
    contentType: registry.contentType,
    async scrape() {
      return (await this.scrapeChunks()).map((chunk) => chunk.toString()).join('');
    },
    async scrapeChunks() {
      // The collector status closes the scrape and reports this scrape's collection, the first one included.
      const { value, text } = await status.scrape(async () => {
        const containerChunks = await renderContainers<(string | Buffer)[]>(() => containers.chunks(view.owners()), []);
        const limitText = await renderLimits(limits, '');
        const podText = podArchives === undefined ? '' : await renderPodArchives(() => renderPodArchiveFamilies(podArchives), '');
        // statfs is I/O: it runs while prom-client collects.
        const [filesystemText, base] = await Promise.all([renderFilesystem(filesystem, ''), registry.metrics()]);
        return [base, filesystemText, limitText, podText, ...containerChunks];
      });
      return [...value, text];
    },
  };
}
