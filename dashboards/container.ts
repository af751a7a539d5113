import type { Dashboard } from '@grafana/schema';
import { dashboardShell } from './shell.js';
import {
  CLUSTER_MATCHER,
  CLUSTER_VARIABLE,
  clusterVariable,
  DATASOURCE_VARIABLE,
  datasourceVariable,
  deletionsAnnotation,
  labelVariable,
  layoutPanels,
  row,
  statPanel,
  tablePanel,
  timeseriesPanel,
  type DashboardOptions,
  type DataLink,
} from './panels.js';

export const CONTAINER_UID = 'checkpoint-archives-container';
const CONTAINER_TITLE = 'Checkpoint archives / Container';

/** The chain users walk: they know the pod, not the node it ran on. */
const NAMESPACE = `${CLUSTER_MATCHER}, namespace="$namespace"`;
const POD = `${NAMESPACE}, pod="$pod"`;
const CONTAINER_ONLY = `${POD}, container="$container"`;
/** Node is a filter after the chain: a pod's archives may lie on several nodes (it moved, or was rescheduled). */
const NODES = 'node=~"$node"';
const CONTAINER = `${CONTAINER_ONLY}, ${NODES}`;
const NAMESPACE_ON_NODES = `${NAMESPACE}, ${NODES}`;
/** Limits that bind this container: its own, its pod's (container="") and its namespace's (pod="", container=""). */
const BINDING_LIMITS = `${NAMESPACE_ON_NODES}, pod=~"$pod|", container=~"$container|"`;

/** The row fields a drill-down link reads the container from; tables must have these columns. */
export const CONTAINER_LINK_FIELDS = ['namespace', 'pod', 'container', 'node'] as const;

/**
 * A data link from a table row to this dashboard: the row's namespace, pod, container and node, the
 * linking dashboard's data source and cluster, and its time range.
 */
export function containerDashboardLink(): DataLink {
  const slug = CONTAINER_TITLE.toLowerCase().replace(/[^a-z0-9]+/g, '-');
  const params = [
    `\${${DATASOURCE_VARIABLE}:queryparam}`,
    `\${${CLUSTER_VARIABLE}:queryparam}`,
    ...CONTAINER_LINK_FIELDS.map((field) => `var-${field}=\${__data.fields.${field}}`),
    '${__url_time_range}',
  ];
  return { title: 'Open this container\'s dashboard', url: `/d/${CONTAINER_UID}/${slug}?${params.join('&')}`, targetBlank: false };
}

export function buildContainerDashboard(options: DashboardOptions = {}): Dashboard {
  return dashboardShell({
    uid: CONTAINER_UID,
    title: CONTAINER_TITLE,
    description: 'One container\'s checkpoint archives against the retention limits that apply to it: pick its namespace, pod and container, then narrow the nodes if its archives lie on several.',
    variables: [
      datasourceVariable(),
      clusterVariable(options),
      labelVariable({ name: 'namespace', label: 'Namespace', series: `checkpoint_archives{${CLUSTER_MATCHER}}`, multi: false }),
      labelVariable({ name: 'pod', label: 'Pod', series: `checkpoint_archives{${NAMESPACE}}`, multi: false }),
      labelVariable({ name: 'container', label: 'Container', series: `checkpoint_archives{${POD}}`, multi: false }),
      labelVariable({ name: 'node', label: 'Node', series: `checkpoint_archives{${CONTAINER_ONLY}}`, multi: true }),
    ],
    annotations: [deletionsAnnotation(NAMESPACE_ON_NODES)],
    panels: layoutPanels([
      statPanel({
        title: 'Archives',
        description: 'Settled archives of this container on the selected nodes.',
        unit: 'short',
        queries: [{ expr: `sum(checkpoint_archives{${CONTAINER}})` }],
        width: 4,
        height: 4,
      }),
      statPanel({
        title: 'Archive bytes',
        description: 'Bytes held by this container\'s archives on the selected nodes.',
        unit: 'bytes',
        queries: [{ expr: `sum(checkpoint_archive_bytes{${CONTAINER}})` }],
        width: 4,
        height: 4,
      }),
      statPanel({
        title: 'Oldest archive',
        description: 'When the oldest archive was taken, from the timestamp in its name.',
        unit: 'dateTimeFromNow',
        queries: [{ expr: `min(checkpoint_archive_oldest_timestamp_seconds{${CONTAINER}}) * 1000` }],
        width: 4,
        height: 4,
      }),
      statPanel({
        title: 'Newest archive',
        description: 'When the newest archive was taken, from the timestamp in its name.',
        unit: 'dateTimeFromNow',
        queries: [{ expr: `max(checkpoint_archive_newest_timestamp_seconds{${CONTAINER}}) * 1000` }],
        width: 4,
        height: 4,
      }),
      statPanel({
        title: 'Pinned / orphaned',
        description: 'Pinned archives (a .keep file beside them, never deleted) and orphaned archives (their pod no longer exists).',
        unit: 'short',
        queries: [
          // Both families are exported only where there is something to count: absent means none.
          { expr: `sum(checkpoint_archives_pinned{${CONTAINER}}) or vector(0)`, legend: 'pinned' },
          { expr: `sum(checkpoint_archives_orphaned{${CONTAINER}}) or vector(0)`, legend: 'orphaned' },
        ],
        width: 4,
        height: 4,
      }),
      statPanel({
        title: 'Unsatisfiable limits',
        description: 'Limits binding this container that pinned archives keep from being met.',
        unit: 'short',
        queries: [{ expr: `count(checkpoint_retention_limit_unsatisfiable{${BINDING_LIMITS}} == 1) or vector(0)` }],
        width: 4,
        height: 4,
        thresholds: [{ value: 1, color: 'orange' }],
      }),
      row('What fills the archives'),
      timeseriesPanel({
        title: 'Archive bytes by part',
        description:
          'What this container\'s archives hold, stacked: memory (CRIU page images), checkpoint_other (the other CRIU images), rootfs_diff (changes to the root filesystem) and other (dump files, logs, tar headers). Compressed archives count decompressed sizes.',
        unit: 'bytes',
        queries: [{ expr: `sum by (part) (checkpoint_archive_content_bytes{${CONTAINER}})`, legend: '{{part}}' }],
        width: 18,
        height: 8,
        min: 0,
        stack: true,
      }),
      statPanel({
        title: 'Archives that cannot be restored',
        description: 'Archives of this container missing spec.dump, config.dump or checkpoint/inventory.img: no restore can start from them. `checkpoint-exporter inspect` names the missing entry.',
        unit: 'short',
        queries: [{ expr: `sum(checkpoint_archives_unrestorable{${CONTAINER}}) or vector(0)` }],
        width: 6,
        height: 8,
        thresholds: [{ value: 1, color: 'orange' }],
      }),
      row('Against limits'),
      timeseriesPanel({
        title: 'Archives against the count limit',
        description: 'Archives of this container and its own maximum archive count.',
        unit: 'short',
        queries: [
          { expr: `sum(checkpoint_archives{${CONTAINER}})`, legend: 'archives' },
          { expr: `max(checkpoint_retention_limit_archives{${CONTAINER}})`, legend: 'count limit' },
        ],
        width: 8,
        height: 8,
        min: 0,
      }),
      timeseriesPanel({
        title: 'Bytes against the size limits',
        description: 'Bytes of this container\'s archives against its total size limit and its per-archive size limit.',
        unit: 'bytes',
        queries: [
          { expr: `sum(checkpoint_archive_bytes{${CONTAINER}})`, legend: 'bytes' },
          { expr: `max(checkpoint_retention_limit_bytes{${CONTAINER}, limit="total"})`, legend: 'total size limit' },
          { expr: `max(checkpoint_retention_limit_bytes{${CONTAINER}, limit="single"})`, legend: 'per-archive size limit' },
        ],
        width: 8,
        height: 8,
        min: 0,
      }),
      timeseriesPanel({
        title: 'Archive age against the age limit',
        description: 'Age of the oldest and newest archive (from their names) and the maximum age.',
        unit: 's',
        queries: [
          { expr: `max(time() - checkpoint_archive_oldest_timestamp_seconds{${CONTAINER}})`, legend: 'oldest' },
          { expr: `min(time() - checkpoint_archive_newest_timestamp_seconds{${CONTAINER}})`, legend: 'newest' },
          { expr: `max(checkpoint_retention_limit_age_seconds{${CONTAINER}})`, legend: 'age limit' },
        ],
        width: 8,
        height: 8,
        min: 0,
      }),
      tablePanel({
        title: 'Limits in effect',
        description:
          'Every limit binding this container: its own, its pod\'s and its namespace\'s. checkpoint_retention_limit_archives counts archives, checkpoint_retention_limit_bytes is in bytes (limit single per archive, total for the scope), checkpoint_retention_limit_age_seconds in seconds.',
        unit: 'short',
        queries: [{ expr: `max by (__name__, namespace, pod, container, limit) ({__name__=~"checkpoint_retention_limit_(archives|bytes|age_seconds)", ${BINDING_LIMITS}})`, legend: 'value' }],
        transformations: [{ id: 'organize', options: { excludeByName: { Time: true } } }],
        width: 16,
        height: 7,
      }),
      tablePanel({
        title: 'Global limits',
        description:
          'The global policy\'s limits, which bind every container a narrower policy does not cover: checkpoint_retention_global_limit_archives counts archives per container, pod or namespace (level), checkpoint_retention_global_limit_bytes is in bytes (level archive per archive, else the total of the level), checkpoint_retention_global_limit_age_seconds in seconds.',
        unit: 'short',
        queries: [
          {
            expr: `max by (__name__, level) ({__name__=~"checkpoint_retention_global_limit_(archives|bytes|age_seconds)", ${CLUSTER_MATCHER}, ${NODES}})`,
            legend: 'value',
          },
        ],
        transformations: [{ id: 'organize', options: { excludeByName: { Time: true } } }],
        width: 8,
        height: 7,
      }),
      row('Deletions in the namespace'),
      timeseriesPanel({
        title: 'Deletions in the namespace by reason',
        description: 'Archives of this namespace deleted on the selected nodes per second, by the rule that selected them. The Deletions annotation marks them on every panel.',
        unit: 'ops',
        queries: [
          {
            expr: `sum by (reason) (rate(checkpoint_retention_deletions_total{${NAMESPACE_ON_NODES}}[$__rate_interval]))`,
            legend: '{{reason}}',
          },
        ],
        width: 12,
        height: 8,
        min: 0,
      }),
      timeseriesPanel({
        title: 'Deleted bytes in the namespace by reason',
        description: 'Bytes of this namespace freed on the selected nodes per second, by the rule that selected the archives.',
        unit: 'Bps',
        queries: [
          {
            expr: `sum by (reason) (rate(checkpoint_retention_deleted_bytes_total{${NAMESPACE_ON_NODES}}[$__rate_interval]))`,
            legend: '{{reason}}',
          },
        ],
        width: 12,
        height: 8,
        min: 0,
      }),
    ]),
  });
}
