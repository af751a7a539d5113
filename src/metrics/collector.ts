import type { Logger } from 'pino';
import { Gauge, type Registry } from 'prom-client';

/** The outcome of each collector's last run, in the node_exporter way: a success flag and a duration. */
export interface CollectorStatus {
  /** Times `run` and records its outcome under `collector`; a throw is recorded and rethrown. */
  time<T>(collector: string, run: () => T | Promise<T>): Promise<T>;
  register(registry: Registry): void;
}

export function createCollectorStatus(): CollectorStatus {
  // Per collector: the families of one scrape that are still running, and whether any failed.
  const last = new Map<string, { seconds: number; ok: boolean }>();
  return {
    async time(collector, run) {
      const started = performance.now();
      let ok = false;
      try {
        const value = await run();
        ok = true;
        return value;
      } finally {
        const seconds = (performance.now() - started) / 1000;
        const previous = last.get(collector);
        // Several families make up one collector: it succeeded only if all of them did.
        last.set(collector, previous === undefined ? { seconds, ok } : { seconds: Math.max(previous.seconds, seconds), ok: previous.ok && ok });
      }
    },
    register(registry) {
      const success: Gauge<'collector'> = new Gauge({
        name: 'checkpoint_exporter_collector_success',
        help: '1 when every metric family of the collector was collected in its last run, 0 when one failed (its families are then missing).',
        labelNames: ['collector'],
        registers: [registry],
        collect() {
          for (const [collector, outcome] of last) success.set({ collector }, outcome.ok ? 1 : 0);
        },
      });
      const duration: Gauge<'collector'> = new Gauge({
        name: 'checkpoint_exporter_collector_duration_seconds',
        help: 'Time the collector took in its last run.',
        labelNames: ['collector'],
        registers: [registry],
        collect() {
          for (const [collector, outcome] of last) duration.set({ collector }, outcome.seconds);
          // The next scrape starts afresh.
          last.clear();
        },
      });
    },
  };
}

/**
 * Wraps a collect function so a failure logs and leaves that family empty: prom-client awaits every
 * collect together without catching, so one throw would otherwise fail the whole scrape. With a
 * status, the run is timed and its outcome reported per collector.
 */
export function safeCollect(
  name: string,
  logger: Logger,
  collect: () => void | Promise<void>,
  status?: { readonly status: CollectorStatus; readonly collector: string },
): () => Promise<void> {
  return async () => {
    try {
      if (status === undefined) await collect();
      else await status.status.time(status.collector, collect);
    } catch (error) {
      logger.error({ err: error, collector: name }, 'metrics collector failed');
    }
  };
}
