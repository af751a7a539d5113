import { collectDefaultMetrics, Registry } from 'prom-client';
import type { Logger } from 'pino';
import type { ExporterView } from './exporter-view.js';
import { createContainerMetrics, type ContainerMetrics } from './container-metrics.js';
import { registerFilesystemCollector } from './filesystem-collector.js';
import { registerHealthCollector } from './health-collector.js';
import { registerInventoryCollector } from './inventory-collector.js';
import { createCollectorStatus } from './collector.js';
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
  registerFilesystemCollector(registry, view, logger, status);
  registerHealthCollector(registry, view);
  const containers = createContainerMetrics(() => view.index(), view.containerMetrics ?? true);
  const limits = createLimitFamilies(view);
  // Rendered ahead of prom-client's families, so their outcome is in the collector status it reports.
  const rendered = async (collector: string, render: () => string): Promise<string> => {
    try {
      return await status.time(collector, render);
    } catch (error) {
      logger.error({ err: error, collector }, 'metrics collector failed');
      return '';
    }
  };
  status.register(registry);
  return {
    containers,
    contentType: registry.contentType,
    async scrape() {
      return (await this.scrapeChunks()).map((chunk) => chunk.toString()).join('');
    },
    async scrapeChunks() {
      let containerChunks: (string | Buffer)[] = [];
      try {
        containerChunks = await status.time('containers', () => containers.chunks(view.owners()));
      } catch (error) {
        logger.error({ err: error, collector: 'containers' }, 'metrics collector failed');
      }
      const limitText = await rendered('limits', limits);
      const base = await registry.metrics();
      return [base, limitText, ...containerChunks];
    },
  };
}
