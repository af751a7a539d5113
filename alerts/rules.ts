/**
 * Prometheus alerting rules for checkpoint-exporter, as plain rule-group objects. The committed rules file,
 * the PrometheusRule manifest and the end-to-end test all render from this one builder, so it stays pure:
 * no I/O, no clock, the same output for the same options.
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

export interface AlertRuleOptions {
  /**
   * Multiplies every `for:` duration (rounded to whole seconds). 1 is production; tests that drive a real
   * Prometheus use a tiny factor so alerts fire within seconds. Must be finite and >= 0.
   */
  readonly forScale?: number;
  /** Where the runbook lives; each alert links to `<runbookBaseUrl>#<alert name in lower case>`. */
  readonly runbookBaseUrl?: string;
}

/** The Prometheus scrape job (and ServiceMonitor job label) the exporter is collected under. */
export const SCRAPE_JOB = 'checkpoint-exporter';
export const DEFAULT_RUNBOOK_BASE_URL = 'docs/runbooks.md';
export const RULE_GROUP_NAME = 'checkpoint-exporter';

/**
 * Free-space thresholds follow node-mixin's filesystem alerts: a prediction only counts once less than
 * 40 % (24 h horizon) or 20 % (4 h horizon) is left, so a large, briefly busy filesystem does not page.
 */
const FILLING_UP_WARNING_PERCENT = 40;
const FILLING_UP_CRITICAL_PERCENT = 20;
const ALMOST_FULL_WARNING_PERCENT = 5;
const ALMOST_FULL_CRITICAL_PERCENT = 3;
/** Retention runs on every resync (default every few minutes) and on file events; 30 min means many missed runs. */
const RETENTION_STALLED_SECONDS = 30 * 60;

const MINUTE = 60;
const HOUR = 60 * MINUTE;

const UP = `up{job="${SCRAPE_JOB}"}`;
const AVAIL_PERCENT = 'checkpoint_filesystem_avail_bytes / checkpoint_filesystem_size_bytes * 100';
/** Only judge space where the directory exists, as node-mixin only judges writable filesystems. */
const PRESENT_GUARD = 'checkpoint_directory_present == 1';
const ON_NODE = 'on node {{ $labels.node }}';
const CONTAINER_SCOPE =
  'namespace {{ $labels.namespace }}{{ with $labels.pod }}, pod {{ . }}{{ end }}{{ with $labels.container }}, container {{ . }}{{ end }}';

export function buildAlertRuleGroups(options: AlertRuleOptions = {}): AlertRuleGroup[] {
  const scale = options.forScale ?? 1;
  if (!Number.isFinite(scale) || scale < 0) throw new RangeError(`forScale must be a finite number >= 0, got ${scale}`);
  const runbookBase = options.runbookBaseUrl ?? DEFAULT_RUNBOOK_BASE_URL;

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

  const fillingUp = (severity: Severity, belowPercent: number, horizonHours: number): AlertingRule =>
    rule(
      'CheckpointDirectoryFillingUp',
      severity,
      HOUR,
      [
        '(',
        `  ${AVAIL_PERCENT} < ${belowPercent}`,
        'and',
        `  predict_linear(checkpoint_filesystem_avail_bytes[6h], ${horizonHours} * 60 * 60) < 0`,
        'and',
        `  ${PRESENT_GUARD}`,
        ')',
      ].join('\n'),
      `The checkpoint filesystem is predicted to run out of space within ${horizonHours} hours.`,
      `The filesystem holding the checkpoint directory ${ON_NODE} has only {{ printf "%.2f" $value }}% space available and, ` +
        `at the rate of the last 6 hours, will be full within ${horizonHours} hours.`,
    );

  const almostFull = (severity: Severity, belowPercent: number): AlertingRule =>
    rule(
      'CheckpointDirectoryAlmostFull',
      severity,
      30 * MINUTE,
      `(\n  ${AVAIL_PERCENT} < ${belowPercent}\nand\n  ${PRESENT_GUARD}\n)`,
      `The checkpoint filesystem has less than ${belowPercent}% space left.`,
      `The filesystem holding the checkpoint directory ${ON_NODE} has only {{ printf "%.2f" $value }}% space available; ` +
        'kubelet checkpoints will fail once it is full.',
    );

  return [
    {
      name: RULE_GROUP_NAME,
      rules: [
        fillingUp('warning', FILLING_UP_WARNING_PERCENT, 24),
        fillingUp('critical', FILLING_UP_CRITICAL_PERCENT, 4),
        almostFull('warning', ALMOST_FULL_WARNING_PERCENT),
        almostFull('critical', ALMOST_FULL_CRITICAL_PERCENT),
        rule(
          'CheckpointRetentionFailing',
          'warning',
          15 * MINUTE,
          'increase(checkpoint_retention_errors_total[15m]) > 0',
          'Checkpoint retention operations are failing.',
          `checkpoint-exporter ${ON_NODE} had {{ printf "%.0f" $value }} failed {{ $labels.operation }} operations ` +
            'in the last 15 minutes; archives over their limits may not be removed.',
        ),
        rule(
          'CheckpointRetentionLimitUnsatisfiable',
          'warning',
          HOUR,
          // The join puts the limit's value into $value; the fallback keeps the alert if no limit series matches.
          '(\n  checkpoint_retention_limit and checkpoint_retention_limit_unsatisfiable == 1\n)\nor\n  checkpoint_retention_limit_unsatisfiable == 1',
          'Pinned checkpoint archives keep a retention limit from being met.',
          `Pinned archives of ${CONTAINER_SCOPE} ${ON_NODE} keep its {{ $labels.limit }} limit ({{ $value | humanize }}) from being met; ` +
            'retention cannot delete pinned archives.',
        ),
        rule(
          'CheckpointRetentionStalled',
          'warning',
          15 * MINUTE,
          // The second branch covers an exporter that never finished a run: the metric is absent until the first one.
          [
            `(time() - checkpoint_retention_last_run_timestamp_seconds) > ${RETENTION_STALLED_SECONDS}`,
            'or',
            `(time() - process_start_time_seconds{job="${SCRAPE_JOB}"}) > ${RETENTION_STALLED_SECONDS}`,
            '  unless on (job, instance) checkpoint_retention_last_run_timestamp_seconds',
          ].join('\n'),
          'Checkpoint retention has not run recently.',
          `checkpoint-exporter ${ON_NODE} has not completed a retention run for {{ $value | humanizeDuration }}.`,
        ),
        rule(
          'CheckpointExporterDown',
          'warning',
          15 * MINUTE,
          `${UP} == 0\nor\nabsent(${UP})`,
          'checkpoint-exporter is down or missing from Prometheus.',
          `Prometheus has no successful scrape of job ${SCRAPE_JOB}{{ with $labels.instance }} target {{ . }}{{ end }}` +
            '{{ with $labels.node }} on node {{ . }}{{ end }}; checkpoint archives there are neither measured nor cleaned up.',
        ),
        rule(
          'CheckpointConfigReloadFailed',
          'warning',
          10 * MINUTE,
          'checkpoint_config_last_reload_successful == 0',
          'checkpoint-exporter failed to reload its policy configuration.',
          `checkpoint-exporter ${ON_NODE} could not load its policy file and keeps enforcing the last good policy ` +
            '(last_reload_successful = {{ $value }}).',
        ),
        rule(
          'CheckpointKubernetesAPIUnavailable',
          'warning',
          15 * MINUTE,
          'checkpoint_kubernetes_api_up == 0',
          'checkpoint-exporter cannot use the Kubernetes API; orphan cleanup is off.',
          `checkpoint-exporter ${ON_NODE} has no healthy Kubernetes API view (api_up = {{ $value }}), ` +
            'so archives of deleted pods are not recognised as orphans and are not removed.',
        ),
        rule(
          'CheckpointUnidentifiedArchives',
          'warning',
          HOUR,
          'checkpoint_unidentified_archives > 0',
          'Checkpoint archives whose owner cannot be identified are accumulating.',
          `{{ $value }} checkpoint archives ${ON_NODE} have no readable pod identity; ` +
            'per-container limits never delete them, so they stay until removed by hand (disk pressure never deletes them either).',
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
