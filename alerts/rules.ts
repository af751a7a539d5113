/**
 * Prometheus alerting rules for checkpoint-exporter, as plain rule-group objects. The committed rules file,
 * the PrometheusRule manifest, the Helm chart's PrometheusRule template and the end-to-end test all render
 * from this one builder, so it stays pure: no I/O, no clock, the same output for the same options.
 */

export interface AlertingRule {
  readonly alert: string;
  readonly expr: string;
  readonly for: string;
  readonly labels: { readonly severity: Severity };
  readonly annotations: { readonly summary: string; readonly description: string; readonly runbook_url: string };
}

export interface AlertRuleGroup {
  readonly name: string;
  readonly rules: readonly AlertingRule[];
}

export type Severity = 'warning' | 'critical';

/** The numbers users tune, all percentages of the filesystem holding the checkpoint directory. */
export interface AlertThresholds {
  /** CheckpointDirectoryFillingUp, warning: less than this available and full within 24 hours. */
  readonly fillingUpWarningPercent: number;
  /** CheckpointDirectoryFillingUp, critical: less than this available and full within 4 hours. */
  readonly fillingUpCriticalPercent: number;
  /** CheckpointDirectoryAlmostFull, warning: less than this available. */
  readonly almostFullWarningPercent: number;
  /** CheckpointDirectoryAlmostFull, critical: less than this available. */
  readonly almostFullCriticalPercent: number;
  /**
   * Both filesystem alerts fire only where checkpoint archives (identified and unidentified) take at least
   * this share of the filesystem: elsewhere deleting archives cannot help, and node-exporter's filesystem
   * alerts (node-mixin's NodeFilesystemSpaceFillingUp, NodeFilesystemAlmostOutOfSpace) already page for it.
   */
  readonly minArchiveSharePercent: number;
}

export interface AlertRuleOptions {
  /**
   * Multiplies every `for:` duration (rounded to whole seconds). 1 is production; tests that drive a real
   * Prometheus use a tiny factor so alerts fire within seconds. Must be finite and >= 0.
   */
  readonly forScale?: number;
  /** Where the runbook lives; each alert links to `<runbookBaseUrl>#<alert name in lower case>`. */
  readonly runbookBaseUrl?: string;
  /** The `job` label of the exporter's targets; every selector of every rule matches it. */
  readonly job?: string;
  /** Overrides single thresholds; the others keep their defaults. */
  readonly thresholds?: Partial<AlertThresholds>;
}

/** The Prometheus scrape job (and ServiceMonitor/PodMonitor job label) the exporter is collected under. */
export const SCRAPE_JOB = 'checkpoint-exporter';
/** Absolute, so the link works from Alertmanager, chat and paging tools; point it at your own copy if you fork. */
export const DEFAULT_RUNBOOK_BASE_URL = 'https://github.com/checkpoint-exporter/checkpoint-exporter/blob/main/docs/runbooks.md';
export const RULE_GROUP_NAME = 'checkpoint-exporter';

/**
 * The kubelet's default hard eviction threshold for the node filesystem (`nodefs.available<10%`); where
 * images share that filesystem, `imagefs.available<15%` applies to it as well. The almost-full alerts must
 * fire before either, while there is still time to act.
 */
export const KUBELET_NODEFS_HARD_EVICTION_PERCENT = 10;

/**
 * The 24 h / 4 h prediction thresholds follow node-mixin's filesystem alerts: a prediction only counts once
 * less than 40 % or 20 % is left, so a large, briefly busy filesystem does not page. The almost-full
 * thresholds sit above the kubelet's eviction thresholds (see KUBELET_NODEFS_HARD_EVICTION_PERCENT).
 */
export const DEFAULT_ALERT_THRESHOLDS: AlertThresholds = {
  fillingUpWarningPercent: 40,
  fillingUpCriticalPercent: 20,
  almostFullWarningPercent: 25,
  almostFullCriticalPercent: 20,
  minArchiveSharePercent: 10,
};

/** Retention runs on every resync (default every few minutes) and on file events; 30 min means many missed runs. */
const RETENTION_STALLED_SECONDS = 30 * 60;

const MINUTE = 60;
const HOUR = 60 * MINUTE;

/**
 * Every parameter as the text that goes into the rules. `buildAlertRuleGroups` fills it from validated
 * options; the Helm chart generator fills it with placeholders it later turns into template expressions.
 */
export interface AlertRuleText {
  readonly forScale: number;
  readonly runbookBaseUrl: string;
  readonly job: string;
  readonly thresholds: { readonly [K in keyof AlertThresholds]: string };
}

export function buildAlertRuleGroups(options: AlertRuleOptions = {}): AlertRuleGroup[] {
  const forScale = options.forScale ?? 1;
  if (!Number.isFinite(forScale) || forScale < 0) throw new RangeError(`forScale must be a finite number >= 0, got ${forScale}`);
  const thresholds = resolveThresholds(options.thresholds);
  const job = options.job ?? SCRAPE_JOB;
  if (!/^[^"\\\n]+$/.test(job)) throw new RangeError(`job must be a non-empty label value without quotes, backslashes or newlines, got ${JSON.stringify(job)}`);
  const text = Object.fromEntries(Object.entries(thresholds).map(([key, value]) => [key, String(value)])) as AlertRuleText['thresholds'];
  return buildAlertRuleGroupsFromText({ forScale, runbookBaseUrl: options.runbookBaseUrl ?? DEFAULT_RUNBOOK_BASE_URL, job, thresholds: text });
}

/** Defaults completed and checked: percentages in (0, 100), each critical mark below its warning mark. */
export function resolveThresholds(overrides: Partial<AlertThresholds> = {}): AlertThresholds {
  const thresholds: AlertThresholds = { ...DEFAULT_ALERT_THRESHOLDS, ...overrides };
  for (const [name, value] of Object.entries(thresholds)) {
    if (!Number.isFinite(value) || value <= 0 || value >= 100) throw new RangeError(`${name} must be a percentage above 0 and below 100, got ${value}`);
  }
  if (thresholds.fillingUpCriticalPercent > thresholds.fillingUpWarningPercent) {
    throw new RangeError(`fillingUpCriticalPercent (${thresholds.fillingUpCriticalPercent}) must not exceed fillingUpWarningPercent (${thresholds.fillingUpWarningPercent})`);
  }
  if (thresholds.almostFullCriticalPercent > thresholds.almostFullWarningPercent) {
    throw new RangeError(`almostFullCriticalPercent (${thresholds.almostFullCriticalPercent}) must not exceed almostFullWarningPercent (${thresholds.almostFullWarningPercent})`);
  }
  return thresholds;
}

/** The rules with every parameter inserted verbatim; see AlertRuleText. */
export function buildAlertRuleGroupsFromText(parameters: AlertRuleText): AlertRuleGroup[] {
  const { forScale: scale, runbookBaseUrl: runbookBase, job, thresholds } = parameters;
  /** A metric selected on the exporter's job. */
  const metric = (name: string): string => `${name}{job="${job}"}`;
  const up = metric('up');
  const availPercent = `${metric('checkpoint_filesystem_avail_bytes')} / ${metric('checkpoint_filesystem_size_bytes')} * 100`;
  /** Only judge space where the directory exists, as node-mixin only judges writable filesystems. */
  const presentGuard = `${metric('checkpoint_directory_present')} == 1`;
  /**
   * Only judge space where archives hold a real share of it: the node-level totals of identified and
   * unidentified archive bytes, which carry exactly the target labels the filesystem series carry and
   * stay exported with --no-container-metrics, and the pod-level archives' (KEP-5823) total, counted as
   * 0 where an exporter does not watch a pod checkpoint directory (the `or`), so their absence never
   * silences the alert.
   */
  const podBytes = `(${metric('checkpoint_pod_archives_total_bytes')} or ${metric('checkpoint_identified_archive_bytes')} * 0)`;
  const shareGuard = [
    `  ${metric('checkpoint_identified_archive_bytes')} + ${metric('checkpoint_unidentified_archive_bytes')} + ${podBytes}`,
    `  >= ${metric('checkpoint_filesystem_size_bytes')} * ${thresholds.minArchiveSharePercent} / 100`,
  ].join('\n');
  const shareSentence =
    `Checkpoint archives (pod-level ones included) take at least ${thresholds.minArchiveSharePercent}% of this filesystem, so deleting archives can free space here ` +
    '(where they take less, this alert stays quiet and node-exporter filesystem alerts cover the disk).';
  const onNode = 'on node {{ $labels.node }}';
  const containerScope =
    'namespace {{ $labels.namespace }}{{ with $labels.pod }}, pod {{ . }}{{ end }}{{ with $labels.container }}, container {{ . }}{{ end }}';

  const rule = (
    alert: string,
    severity: Severity,
    forSeconds: number,
    expr: string,
    summary: string,
    description: string,
  ): AlertingRule => ({
    alert,
    expr,
    for: formatDuration(Math.round(forSeconds * scale)),
    labels: { severity },
    annotations: { summary, description, runbook_url: `${runbookBase}#${runbookAnchor(alert)}` },
  });

  const fillingUp = (severity: Severity, belowPercent: string, horizonHours: number): AlertingRule =>
    rule(
      'CheckpointDirectoryFillingUp',
      severity,
      HOUR,
      [
        '(',
        `  ${availPercent} < ${belowPercent}`,
        'and',
        `  predict_linear(${metric('checkpoint_filesystem_avail_bytes')}[6h], ${horizonHours} * 60 * 60) < 0`,
        'and',
        `  ${presentGuard}`,
        'and',
        `  ${shareGuard}`,
        ')',
      ].join('\n'),
      `The checkpoint filesystem is predicted to run out of space within ${horizonHours} hours.`,
      `The filesystem holding the checkpoint directory ${onNode} has only {{ printf "%.2f" $value }}% space available and, ` +
        `at the rate of the last 6 hours, will be full within ${horizonHours} hours. ${shareSentence}`,
    );

  const almostFull = (severity: Severity, belowPercent: string): AlertingRule =>
    rule(
      'CheckpointDirectoryAlmostFull',
      severity,
      30 * MINUTE,
      ['(', `  ${availPercent} < ${belowPercent}`, 'and', `  ${presentGuard}`, 'and', `  ${shareGuard}`, ')'].join('\n'),
      `The checkpoint filesystem has less than ${belowPercent}% space left.`,
      `The filesystem holding the checkpoint directory ${onNode} has only {{ printf "%.2f" $value }}% space available; ` +
        `kubelet checkpoints fail once it is full, and the kubelet starts evicting pods when it shares the node's filesystem. ${shareSentence}`,
    );

  return [
    {
      name: RULE_GROUP_NAME,
      rules: [
        fillingUp('warning', thresholds.fillingUpWarningPercent, 24),
        fillingUp('critical', thresholds.fillingUpCriticalPercent, 4),
        almostFull('warning', thresholds.almostFullWarningPercent),
        almostFull('critical', thresholds.almostFullCriticalPercent),
        rule(
          'CheckpointRetentionFailing',
          'warning',
          15 * MINUTE,
          `increase(${metric('checkpoint_retention_errors_total')}[15m]) > 0`,
          'Checkpoint retention operations are failing.',
          `checkpoint-exporter ${onNode} had {{ printf "%.0f" $value }} failed {{ $labels.operation }} operations ` +
            'in the last 15 minutes; archives over their limits may not be removed.',
        ),
        rule(
          'CheckpointRetentionLimitUnsatisfiable',
          'warning',
          HOUR,
          `${metric('checkpoint_retention_limit_unsatisfiable')} == 1`,
          'Pinned checkpoint archives keep a retention limit from being met.',
          `Pinned archives of ${containerScope} ${onNode} keep its {{ $labels.limit }} limit from being met, or leave no room under it ` +
            'for an unpinned archive (each new checkpoint is deleted at once); retention cannot delete pinned archives.',
        ),
        rule(
          'CheckpointRetentionStalled',
          'warning',
          15 * MINUTE,
          // The second branch covers an exporter that never finished a run: the metric is absent until the first one.
          [
            `(time() - ${metric('checkpoint_retention_last_run_timestamp_seconds')}) > ${RETENTION_STALLED_SECONDS}`,
            'or',
            `(time() - ${metric('process_start_time_seconds')}) > ${RETENTION_STALLED_SECONDS}`,
            `  unless on (job, instance) ${metric('checkpoint_retention_last_run_timestamp_seconds')}`,
          ].join('\n'),
          'Checkpoint retention has not run recently.',
          `checkpoint-exporter ${onNode} has not completed a retention run for {{ $value | humanizeDuration }}.`,
        ),
        rule(
          'CheckpointExporterDown',
          'warning',
          15 * MINUTE,
          `${up} == 0\nor\nabsent(${up})`,
          'checkpoint-exporter is down or missing from Prometheus.',
          `Prometheus has no successful scrape of job ${job}{{ with $labels.instance }} target {{ . }}{{ end }}` +
            '{{ with $labels.node }} on node {{ . }}{{ end }}; checkpoint archives there are neither measured nor cleaned up.',
        ),
        rule(
          'CheckpointConfigReloadFailed',
          'warning',
          10 * MINUTE,
          `${metric('checkpoint_config_last_reload_successful')} == 0`,
          'checkpoint-exporter failed to reload its policy configuration.',
          `checkpoint-exporter ${onNode} could not load its policy file and keeps enforcing the last good policy ` +
            '(last_reload_successful = {{ $value }}).',
        ),
        rule(
          'CheckpointKubernetesAPIUnavailable',
          'warning',
          15 * MINUTE,
          `${metric('checkpoint_kubernetes_api_up')} == 0`,
          'checkpoint-exporter cannot use the Kubernetes API; orphan cleanup is off.',
          `checkpoint-exporter ${onNode} has no healthy Kubernetes API view (api_up = {{ $value }}), ` +
            'so archives of deleted pods are not recognised as orphans and are not removed.',
        ),
        rule(
          'CheckpointDirectoryUnreadable',
          'critical',
          10 * MINUTE,
          `${metric('checkpoint_directory_readable')} == 0`,
          'checkpoint-exporter cannot read the checkpoint directory.',
          `The checkpoint directory ${onNode} exists but cannot be stat-ed, watched or listed (permissions, an I/O error, no inotify watch left); ` +
            'archives written there are neither measured nor deleted, and its figures are the last known ones.',
        ),
        rule(
          'CheckpointOffloadFailing',
          'warning',
          30 * MINUTE,
          `${metric('checkpoint_offload_failing_archives')} > 0`,
          'Checkpoint archives cannot be offloaded and stay on the node.',
          `{{ $value }} checkpoint archives ${onNode} failed to copy to the offload target 3 times or more in a row; ` +
            'retention keeps them until a copy succeeds (disk pressure deletes them only with --offload-disk-pressure-delete), so the directory grows.',
        ),
        rule(
          'CheckpointUnidentifiedArchives',
          'warning',
          HOUR,
          `${metric('checkpoint_unidentified_archives')} > 0`,
          'Checkpoint archives whose owner cannot be identified are accumulating.',
          `{{ $value }} checkpoint archives ${onNode} have no readable pod identity; ` +
            'per-container limits never delete them, so they stay until removed by hand (disk pressure never deletes them either).',
        ),
        rule(
          'CheckpointPodArchiveIdentityConflicts',
          'warning',
          HOUR,
          `${metric('checkpoint_pod_archive_identity_conflicts')} > 0`,
          'Pod-level checkpoint archives and their PodCheckpoint objects name different pods.',
          `{{ $value }} pod-level checkpoint archives ${onNode} are named for one pod while a PodCheckpoint object points at them for another; ` +
            "they are kept whatever the policy says and left out of both pods' limits until the two agree.",
        ),
      ],
    },
  ];
}

/** The GitHub-style heading anchor of an alert's runbook section: the name in lower case. */
export function runbookAnchor(alertName: string): string {
  return alertName.toLowerCase();
}

/** Distinct alert names, in rule order. */
export function listAlertNames(groups: readonly AlertRuleGroup[]): string[] {
  return [...new Set(groups.flatMap((group) => group.rules.map((r) => r.alert)))];
}

/** Prometheus duration text for whole seconds: 5400 → `1h30m`, 0 → `0s`. */
export function formatDuration(totalSeconds: number): string {
  if (!Number.isInteger(totalSeconds) || totalSeconds < 0) throw new RangeError(`not a whole number of seconds: ${totalSeconds}`);
  if (totalSeconds === 0) return '0s';
  const units: ReadonlyArray<readonly [string, number]> = [
    ['h', HOUR],
    ['m', MINUTE],
    ['s', 1],
  ];
  let rest = totalSeconds;
  let text = '';
  for (const [suffix, size] of units) {
    const count = Math.floor(rest / size);
    if (count > 0) text += `${count}${suffix}`;
    rest -= count * size;
  }
  return text;
}
