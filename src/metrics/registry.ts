import { collectDefaultMetrics, Registry } from 'prom-client';
import type { Logger } from 'pino';
import type { ExporterView } from './exporter-view.js';
import { registerFilesystemCollector } from './filesystem-collector.js';
import { registerHealthCollector } from './health-collector.js';
import { registerInventoryCollector } from './inventory-collector.js';
import { registerRetentionCollector, type RetentionMetrics } from './retention-collector.js';

/** prom-client exposes these as gauges named `_total`, which promtool rejects as a counter naming its gauge. */
const REJECTED_DEFAULT_METRICS = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'];

export interface ExporterMetrics {
  readonly registry: Registry;
  readonly retention: RetentionMetrics;
}

/** One registry per exporter instance (never the global one), so tests can run several side by side. */
export function createExporterMetrics(view: ExporterView, logger: Logger): ExporterMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  for (const name of REJECTED_DEFAULT_METRICS) registry.removeSingleMetric(name);
  registerInventoryCollector(registry, view, logger);
  const retention = registerRetentionCollector(registry, view, logger);
  registerFilesystemCollector(registry, view, logger);
  registerHealthCollector(registry, view);
  return { registry, retention };
}
