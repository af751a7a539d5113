import { Counter, Gauge, type Registry } from 'prom-client';
import type { Logger } from 'pino';
import { DELETION_REASONS, type PlannedDeletion, type RetentionObserver } from '../retention/types.js';
import { safeCollect } from './collector.js';
import type { ExporterView } from './exporter-view.js';

export const RETENTION_ERROR_OPERATIONS = ['plan', 'lstat', 'verify', 'unlink', 'statfs'] as const;
export type RetentionErrorOperation = (typeof RETENTION_ERROR_OPERATIONS)[number];

const LIMIT_LABELS = ['namespace', 'pod', 'container', 'limit'] as const;

export interface RetentionMetrics {
  /** The executor reports every deletion and failed check through this. */
  readonly observer: RetentionObserver;
  recordError(operation: RetentionErrorOperation): void;
}

/** Deletion counters (the only state kept between scrapes) and gauges read from the last plan. */
export function registerRetentionCollector(registry: Registry, view: ExporterView, logger: Logger): RetentionMetrics {
  const deletions = new Counter({
    name: 'checkpoint_retention_deletions_total',
    help: 'Archives deleted by retention, by namespace and reason.',
    labelNames: ['namespace', 'reason'],
    registers: [registry],
  });
  const deletedBytes = new Counter({
    name: 'checkpoint_retention_deleted_bytes_total',
    help: 'Bytes of archives deleted by retention, by namespace and reason.',
    labelNames: ['namespace', 'reason'],
    registers: [registry],
  });
  const errors = new Counter({
    name: 'checkpoint_retention_errors_total',
    help: 'Failed retention operations: planning, statfs, the pre-unlink checks, or the unlink itself.',
    labelNames: ['operation'],
    registers: [registry],
  });
  // Every operation starts at 0 so rate() and increase() see the first error.
  for (const operation of RETENTION_ERROR_OPERATIONS) errors.inc({ operation }, 0);

  const planned: Gauge<'reason'> = new Gauge({
    name: 'checkpoint_retention_planned_deletions',
    help: 'Deletions the last retention plan selected, by reason; stays non-zero in dry run.',
    labelNames: ['reason'],
    registers: [registry],
    collect: safeCollect('checkpoint_retention_planned_deletions', logger, () => {
      const counts = new Map<string, number>(DELETION_REASONS.map((reason) => [reason, 0]));
      for (const deletion of view.lastPlan()?.deletions ?? []) counts.set(deletion.reason, (counts.get(deletion.reason) ?? 0) + 1);
      for (const [reason, count] of counts) planned.set({ reason }, count);
    }),
  });

  const lastRun: Gauge = new Gauge({
    name: 'checkpoint_retention_last_run_timestamp_seconds',
    help: 'Time the last retention run finished, in seconds since the epoch.',
    registers: [registry],
    collect: () => {
      const ms = view.lastRetentionRunMs();
      if (ms === undefined) lastRun.remove();
      else lastRun.set(ms / 1000);
    },
  });

  const limits: Gauge<(typeof LIMIT_LABELS)[number]> = new Gauge({
    name: 'checkpoint_retention_limit',
    help: 'Effective retention limit for a scope (archives, bytes or seconds); pod and container are empty for broader scopes.',
    labelNames: LIMIT_LABELS,
    registers: [registry],
    collect: safeCollect('checkpoint_retention_limit', logger, () => {
      limits.reset();
      for (const l of view.lastPlan()?.effectiveLimits ?? []) {
        limits.set({ namespace: l.namespace, pod: l.pod, container: l.container, limit: l.limit }, l.value);
      }
    }),
  });

  const unsatisfiable: Gauge<(typeof LIMIT_LABELS)[number]> = new Gauge({
    name: 'checkpoint_retention_limit_unsatisfiable',
    help: 'Set to 1 while pinned archives make a retention limit unreachable.',
    labelNames: LIMIT_LABELS,
    registers: [registry],
    collect: safeCollect('checkpoint_retention_limit_unsatisfiable', logger, () => {
      unsatisfiable.reset();
      for (const u of view.lastPlan()?.unsatisfiable ?? []) {
        unsatisfiable.set({ namespace: u.namespace, pod: u.pod, container: u.container, limit: u.limit }, 1);
      }
    }),
  });

  const dryRun = new Gauge({
    name: 'checkpoint_retention_dry_run',
    help: '1 when the exporter plans deletions without carrying them out (--dry-run).',
    registers: [registry],
  });
  dryRun.set(view.dryRun ? 1 : 0);

  const namespaceOf = (deletion: PlannedDeletion): string => deletion.identity?.namespace ?? '';
  return {
    observer: {
      onDeleted(deletion, bytes) {
        const labels = { namespace: namespaceOf(deletion), reason: deletion.reason };
        deletions.inc(labels);
        deletedBytes.inc(labels, bytes);
      },
      onError(operation) {
        errors.inc({ operation });
      },
    },
    recordError(operation) {
      errors.inc({ operation });
    },
  };
}
