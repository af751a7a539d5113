import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { Logger } from 'pino';
import { DELETION_REASONS, type PlannedDeletion, type RetentionObserver } from '../retention/types.js';
import { globalLimitsOf } from '../retention/effective-limits.js';
import { safeCollect, type CollectorStatus } from './collector.js';
import { familyHeader, sampleLine } from './exposition.js';
import type { ExporterView } from './exporter-view.js';

export const RETENTION_ERROR_OPERATIONS = ['plan', 'lstat', 'verify', 'unlink', 'statfs'] as const;
export type RetentionErrorOperation = (typeof RETENTION_ERROR_OPERATIONS)[number];


export interface RetentionMetrics {
  /** The executor reports every deletion and failed check through this. */
  readonly observer: RetentionObserver;
  recordError(operation: RetentionErrorOperation): void;
  /** A retention run finished: `full` or `scoped`, and how long it took (owner lookups and unlinks included). */
  observeRun?(kind: 'full' | 'scoped', seconds: number): void;
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
  const runDuration = new Histogram({
    name: 'checkpoint_retention_run_duration_seconds',
    help: 'Duration of retention runs, owner lookups and unlinks included: full (start, policy change, resync) or scoped (the namespaces a change touched).',
    labelNames: ['kind'],
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60],
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
    observeRun(kind, seconds) {
      runDuration.observe({ kind }, seconds);
    },
  };
}

/** Gauges read from the plan in force and the policy at scrape time, and the work counters. */
export function registerRetentionGauges(registry: Registry, view: ExporterView, logger: Logger, status?: CollectorStatus): void {
  const timer = status?.declare('retention');
  // Each collect empties its family before reading the view, so a read that fails leaves the family
  // out of the scrape rather than showing the last scrape's values.
  // Counters kept by the runner and the inventory, copied at scrape time: they show how much work each
  // change costs, so a return to planning the whole directory once per archive is visible (and tested).
  const runs: Counter<'kind'> = new Counter({
    name: 'checkpoint_retention_runs_total',
    help: 'Retention runs: full (start, policy change, resync) or scoped (the namespaces a change touched).',
    labelNames: ['kind'],
    registers: [registry],
    collect: safeCollect('checkpoint_retention_runs_total', logger, () => {
      runs.reset();
      const work = view.work();
      runs.inc({ kind: 'full' }, work.fullRuns);
      runs.inc({ kind: 'scoped' }, work.scopedRuns);
    }, timer),
  });
  const plannedArchives: Counter = new Counter({
    name: 'checkpoint_retention_planned_archives_total',
    help: 'Archives handed to the retention planner, summed over all runs.',
    registers: [registry],
    collect: safeCollect('checkpoint_retention_planned_archives_total', logger, () => {
      plannedArchives.remove();
      plannedArchives.inc(view.work().archivesPlanned);
    }, timer),
  });
  const snapshots: Counter = new Counter({
    name: 'checkpoint_inventory_snapshot_builds_total',
    help: 'Full copies of the inventory built for readers (the archives API, ls, plan); never one per directory event.',
    registers: [registry],
    collect: safeCollect('checkpoint_inventory_snapshot_builds_total', logger, () => {
      snapshots.remove();
      snapshots.inc(view.work().snapshotBuilds);
    }, timer),
  });

  const planned: Gauge<'reason'> = new Gauge({
    name: 'checkpoint_retention_planned_deletions',
    help: 'Deletions the plan in force selected, by reason: 0 once carried out, non-zero in dry run.',
    labelNames: ['reason'],
    registers: [registry],
    collect: safeCollect('checkpoint_retention_planned_deletions', logger, () => {
      planned.reset();
      const counts = new Map<string, number>(DELETION_REASONS.map((reason) => [reason, 0]));
      for (const deletion of view.lastPlan()?.deletions ?? []) counts.set(deletion.reason, (counts.get(deletion.reason) ?? 0) + 1);
      for (const [reason, count] of counts) planned.set({ reason }, count);
    }, timer),
  });

  const futureDated: Gauge = new Gauge({
    name: 'checkpoint_future_dated_archives',
    help: 'Identified archives whose name lies ahead of the clock beyond the tolerance: neither counted toward limits nor deleted while so.',
    registers: [registry],
    collect: safeCollect('checkpoint_future_dated_archives', logger, () => {
      futureDated.remove();
      futureDated.set(view.lastPlan()?.futureDated?.length ?? 0);
    }, timer),
  });

  const lastRun: Gauge = new Gauge({
    name: 'checkpoint_retention_last_run_timestamp_seconds',
    help: 'Time the last retention run finished, in seconds since the epoch.',
    registers: [registry],
    collect: safeCollect('checkpoint_retention_last_run_timestamp_seconds', logger, () => {
      lastRun.remove();
      const ms = view.lastRetentionRunMs();
      if (ms !== undefined) lastRun.set(ms / 1000);
    }, timer),
  });

  const dryRun = new Gauge({
    name: 'checkpoint_retention_dry_run',
    help: '1 when the exporter plans deletions without carrying them out (--dry-run).',
    registers: [registry],
  });
  dryRun.set(view.dryRun ? 1 : 0);
}

const SCOPE_LABELS = (l: { namespace: string; pod: string; container: string }): [string, string][] => [
  ['namespace', l.namespace],
  ['pod', l.pod],
  ['container', l.container],
];

/**
 * The limit families, one unit per metric (archives, bytes, seconds), as exposition text. Scope rows
 * only where a namespace, pod or container policy sets the limit; the global policy's limits once,
 * labelled by the level they apply at. They change only with a new plan or policy, so the text is
 * rendered then and reused by every scrape in between.
 */
export function createLimitFamilies(view: Pick<ExporterView, 'lastPlan' | 'policy'>): () => string {
  let renderedFrom: { plan: unknown; policy: unknown } | undefined;
  let text = '';
  return () => {
    const plan = view.lastPlan();
    const policy = view.policy();
    if (renderedFrom !== undefined && renderedFrom.plan === plan && renderedFrom.policy === policy) return text;
    renderedFrom = { plan, policy };
    const archives: string[] = [];
    const bytes: string[] = [];
    const age: string[] = [];
    for (const l of plan?.effectiveLimits ?? []) {
      if (l.limit === 'count') archives.push(sampleLine('checkpoint_retention_limit_archives', SCOPE_LABELS(l), l.value));
      else if (l.limit === 'age') age.push(sampleLine('checkpoint_retention_limit_age_seconds', SCOPE_LABELS(l), l.value));
      else bytes.push(sampleLine('checkpoint_retention_limit_bytes', [...SCOPE_LABELS(l), ['limit', l.limit === 'size' ? 'single' : 'total']], l.value));
    }
    const globalArchives: string[] = [];
    const globalBytes: string[] = [];
    const globalAge: string[] = [];
    for (const g of globalLimitsOf(policy)) {
      if (g.limit === 'count') globalArchives.push(sampleLine('checkpoint_retention_global_limit_archives', [['level', g.level]], g.value));
      else if (g.limit === 'age') globalAge.push(sampleLine('checkpoint_retention_global_limit_age_seconds', [], g.value));
      else globalBytes.push(sampleLine('checkpoint_retention_global_limit_bytes', [['level', g.level]], g.value));
    }
    const unsatisfiable = (plan?.unsatisfiable ?? []).map((u) => sampleLine('checkpoint_retention_limit_unsatisfiable', [...SCOPE_LABELS(u), ['limit', u.limit]], 1));
    const marks: string[] = [];
    const pressure = policy.diskPressure;
    const family = (name: string, help: string, lines: readonly string[]): string => familyHeader(name, help, 'gauge') + lines.join('');
    text = [
      family('checkpoint_retention_limit_archives', 'Count limit a namespace, pod or container policy sets for its scope; pod and container empty for broader scopes.', archives),
      family('checkpoint_retention_limit_bytes', 'Size limit a namespace, pod or container policy sets: limit="single" per archive, limit="total" for the whole scope.', bytes),
      family('checkpoint_retention_limit_age_seconds', 'Age limit a namespace, pod or container policy sets, by the time in the archive names.', age),
      family('checkpoint_retention_global_limit_archives', 'Count limit of the global policy per container, pod or namespace (level).', globalArchives),
      family('checkpoint_retention_global_limit_bytes', 'Size limit of the global policy: level="archive" for each single archive, else the total per container, pod or namespace.', globalBytes),
      family('checkpoint_retention_global_limit_age_seconds', 'Age limit of the global policy, by the time in the archive names.', globalAge),
      family(
        'checkpoint_retention_limit_unsatisfiable',
        'Set to 1 while pinned archives make a retention limit unreachable or leave no room for an unpinned archive; limit is count, size, total_size or age.',
        unsatisfiable,
      ),
      family('checkpoint_retention_disk_pressure_high_ratio', 'Disk pressure high mark of the policy in force, as a used fraction; absent without a diskPressure policy.', pressure ? [sampleLine('checkpoint_retention_disk_pressure_high_ratio', [], pressure.highThresholdPercent / 100)] : marks),
      family('checkpoint_retention_disk_pressure_low_ratio', 'Disk pressure low mark of the policy in force, as a used fraction; absent without a diskPressure policy.', pressure ? [sampleLine('checkpoint_retention_disk_pressure_low_ratio', [], pressure.lowThresholdPercent / 100)] : marks),
    ].join('');
    return text;
  };
}
