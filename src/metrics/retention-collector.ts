import { Counter, Gauge, type Registry } from 'prom-client';
import type { Logger } from 'pino';
import { DELETION_REASONS, type PlannedDeletion, type RetentionObserver } from '../retention/types.js';
import { globalLimitsOf } from '../retention/effective-limits.js';
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

/** Deletion and error counters: the only retention state kept between scrapes. Needs no view, so the executor and runner can be built first. */
export function createRetentionCounters(registry: Registry): RetentionMetrics {
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

/** Gauges read from the last plan and the policy at scrape time, and the work counters. */
export function registerRetentionGauges(registry: Registry, view: ExporterView, logger: Logger): void {
  // Counters kept by the runner and the inventory, copied at scrape time: they show how much work each
  // change costs, so a return to planning the whole directory once per archive is visible (and tested).
  const runs: Counter<'kind'> = new Counter({
    name: 'checkpoint_retention_runs_total',
    help: 'Retention runs: full (start, policy change, resync) or scoped (the namespaces a change touched).',
    labelNames: ['kind'],
    registers: [registry],
    collect() {
      const work = view.work();
      runs.reset();
      runs.inc({ kind: 'full' }, work.fullRuns);
      runs.inc({ kind: 'scoped' }, work.scopedRuns);
    },
  });
  const plannedArchives: Counter = new Counter({
    name: 'checkpoint_retention_planned_archives_total',
    help: 'Archives handed to the retention planner, summed over all runs.',
    registers: [registry],
    collect() {
      plannedArchives.reset();
      plannedArchives.inc(view.work().archivesPlanned);
    },
  });
  const snapshots: Counter = new Counter({
    name: 'checkpoint_inventory_snapshot_builds_total',
    help: 'Full copies of the inventory built for readers (the archives API, ls, plan); never one per directory event.',
    registers: [registry],
    collect() {
      snapshots.reset();
      snapshots.inc(view.work().snapshotBuilds);
    },
  });

  // Limits and unsatisfiable limits change only with a new plan or policy: set them again only then.
  let limitsFrom: { plan: unknown; policy: unknown } | undefined;
  const refreshLimits = (): void => {
    const plan = view.lastPlan();
    const policy = view.policy();
    if (limitsFrom !== undefined && limitsFrom.plan === plan && limitsFrom.policy === policy) return;
    limitsFrom = { plan, policy };
    limits.reset();
    for (const l of plan?.effectiveLimits ?? []) limits.set({ namespace: l.namespace, pod: l.pod, container: l.container, limit: l.limit }, l.value);
    unsatisfiable.reset();
    for (const u of plan?.unsatisfiable ?? []) unsatisfiable.set({ namespace: u.namespace, pod: u.pod, container: u.container, limit: u.limit }, 1);
    globalLimits.reset();
    for (const g of globalLimitsOf(policy)) globalLimits.set({ level: g.level, limit: g.limit }, g.value);
  };

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

  const futureDated: Gauge = new Gauge({
    name: 'checkpoint_future_dated_archives',
    help: 'Identified archives whose name lies ahead of the clock beyond the tolerance: neither counted toward limits nor deleted while so.',
    registers: [registry],
    collect() {
      futureDated.set(view.lastPlan()?.futureDated?.length ?? 0);
    },
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
    help: 'Retention limit a namespace, pod or container policy sets for its scope (archives, bytes or seconds); pod and container are empty for broader scopes. Global limits are in checkpoint_retention_global_limit.',
    labelNames: LIMIT_LABELS,
    registers: [registry],
    collect: safeCollect('checkpoint_retention_limit', logger, refreshLimits),
  });

  const globalLimits: Gauge<'level' | 'limit'> = new Gauge({
    name: 'checkpoint_retention_global_limit',
    help: 'Retention limit of the global policy, once for the node: per archive (size, age_seconds), per container, pod or namespace (count, total_size).',
    labelNames: ['level', 'limit'],
    registers: [registry],
    collect: safeCollect('checkpoint_retention_global_limit', logger, refreshLimits),
  });

  const unsatisfiable: Gauge<(typeof LIMIT_LABELS)[number]> = new Gauge({
    name: 'checkpoint_retention_limit_unsatisfiable',
    help: 'Set to 1 while pinned archives make a retention limit unreachable.',
    labelNames: LIMIT_LABELS,
    registers: [registry],
    collect: safeCollect('checkpoint_retention_limit_unsatisfiable', logger, refreshLimits),
  });

  const dryRun = new Gauge({
    name: 'checkpoint_retention_dry_run',
    help: '1 when the exporter plans deletions without carrying them out (--dry-run).',
    registers: [registry],
  });
  dryRun.set(view.dryRun ? 1 : 0);
}
