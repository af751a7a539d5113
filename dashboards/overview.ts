import type { Dashboard } from '@grafana/schema';
import { SCRAPE_JOB } from '../alerts/rules.js';
import { containerDashboardLink } from './container.js';
import { dashboardShell } from './shell.js';
import {
  barGaugePanel,
  CLUSTER_MATCHER,
  clusterVariable,
  datasourceVariable,
  deletionsAnnotation,
  labelVariable,
  layoutPanels,
  row,
  statPanel,
  tablePanel,
  timeseriesPanel,
  type DashboardOptions,
} from './panels.js';

export const OVERVIEW_UID = 'checkpoint-archives-overview';

/** Enough rows to spot the heavy hitters without turning the table into an inventory. */
const TOP_CONTAINERS = 20;

const NODE = `${CLUSTER_MATCHER}, node=~"$node"`;
const NODE_NS = `${NODE}, namespace=~"$namespace"`;
const UP = `up{job="${SCRAPE_JOB}", ${NODE}}`;

export function buildOverviewDashboard(options: DashboardOptions = {}): Dashboard {
  return dashboardShell({
    uid: OVERVIEW_UID,
    title: 'Checkpoint archives / Overview',
    description: 'Container checkpoint archives across the fleet: space, retention deletions, archives retention cannot touch, and exporter health.',
    variables: [
      datasourceVariable(),
      clusterVariable(options),
      labelVariable({ name: 'node', label: 'Node', series: `checkpoint_exporter_build_info{${CLUSTER_MATCHER}}`, multi: true }),
      labelVariable({ name: 'namespace', label: 'Namespace', series: `checkpoint_archives{${NODE}}`, multi: true }),
    ],
    annotations: [deletionsAnnotation(NODE_NS)],
    panels: layoutPanels([
      row('Exporter health'),
      statPanel({
        title: 'Exporters up',
        description: 'Exporter targets Prometheus scraped successfully on the selected nodes.',
        unit: 'short',
        queries: [{ expr: `sum(${UP}) or vector(0)` }],
        width: 4,
        height: 4,
      }),
      statPanel({
        title: 'Failed config reloads',
        description: 'Exporters whose last policy reload failed; they keep enforcing the last good policy.',
        unit: 'short',
        queries: [{ expr: `count(checkpoint_config_last_reload_successful{${NODE}} == 0) or vector(0)` }],
        width: 4,
        height: 4,
        thresholds: [{ value: 1, color: 'red' }],
      }),
      statPanel({
        title: 'Kubernetes API unavailable',
        description: 'Exporters without a healthy Kubernetes API view; orphaned archives are not cleaned up there.',
        unit: 'short',
        queries: [{ expr: `count(checkpoint_kubernetes_api_up{${NODE}} == 0) or vector(0)` }],
        width: 4,
        height: 4,
        thresholds: [{ value: 1, color: 'orange' }],
      }),
      statPanel({
        title: 'Oldest retention run',
        description: 'Age of the least recent retention run among the selected nodes.',
        unit: 's',
        queries: [{ expr: `max(time() - checkpoint_retention_last_run_timestamp_seconds{${NODE}})` }],
        width: 4,
        height: 4,
        thresholds: [
          { value: 900, color: 'orange' },
          { value: 1800, color: 'red' },
        ],
      }),
      statPanel({
        title: 'Dry-run exporters',
        description: 'Exporters started with --dry-run: they plan deletions but delete nothing.',
        unit: 'short',
        queries: [{ expr: `sum(checkpoint_retention_dry_run{${NODE}}) or vector(0)` }],
        width: 4,
        height: 4,
        thresholds: [{ value: 1, color: 'orange' }],
      }),
      statPanel({
        title: 'Pending archives',
        description: 'Archive-named files still being written by kubelet (not yet settled).',
        unit: 'short',
        queries: [{ expr: `sum(checkpoint_pending_archives{${NODE}}) or vector(0)` }],
        width: 4,
        height: 4,
      }),
      statPanel({
        title: 'Unreadable checkpoint directories',
        description:
          'Exporters whose checkpoint directory exists but cannot be stat-ed, watched or listed (permissions, I/O errors, no inotify watch left): nothing there is measured or deleted. A missing directory is not counted.',
        unit: 'short',
        queries: [{ expr: `count(checkpoint_directory_readable{${NODE}} == 0) or vector(0)` }],
        width: 4,
        height: 4,
        thresholds: [{ value: 1, color: 'red' }],
      }),
      timeseriesPanel({
        title: 'Directory rescans by reason',
        description:
          'Full rescans of the checkpoint directory: periodic, initial, and those after the watch may have lost events (events_lost: a burst that could overflow the inotify queue; unreported_change: the directory changed with no event). Each heals the inventory within seconds.',
        unit: 'short',
        queries: [{ expr: `sum by (reason) (increase(checkpoint_inventory_resyncs_total{${NODE}}[$__rate_interval]))`, legend: '{{reason}}' }],
        width: 8,
        height: 4,
        min: 0,
      }),
      tablePanel({
        title: 'Exporter health by node',
        description: 'Per node: scrape status, policy reload status (1 = ok), Kubernetes API status (1 = up), dry run, seconds since the last retention run, and whether the checkpoint directory can be read (0 = unreadable).',
        unit: 'short',
        queries: [
          { expr: `max by (cluster, node) (${UP})`, legend: 'up' },
          { expr: `max by (cluster, node) (checkpoint_config_last_reload_successful{${NODE}})`, legend: 'config reload ok' },
          { expr: `max by (cluster, node) (checkpoint_kubernetes_api_up{${NODE}})`, legend: 'kubernetes api up' },
          { expr: `max by (cluster, node) (checkpoint_retention_dry_run{${NODE}})`, legend: 'dry run' },
          { expr: `max by (cluster, node) (time() - checkpoint_retention_last_run_timestamp_seconds{${NODE}})`, legend: 'last retention run' },
          { expr: `min by (cluster, node) (checkpoint_directory_readable{${NODE}})`, legend: 'directory readable' },
        ],
        columnUnits: { 'Value #E': 's' },
        transformations: [
          { id: 'merge', options: {} },
          {
            id: 'organize',
            options: {
              excludeByName: { Time: true },
              renameByName: {
                'Value #A': 'Up',
                'Value #B': 'Config reload ok',
                'Value #C': 'Kubernetes API up',
                'Value #D': 'Dry run',
                'Value #E': 'Since last retention run',
                'Value #F': 'Directory readable',
              },
            },
          },
        ],
        width: 24,
        height: 6,
      }),
      row('Archives and space'),
      timeseriesPanel({
        title: 'Archives',
        description: 'Settled, identified archives: fleet total and per node.',
        unit: 'short',
        queries: [
          { expr: `sum(checkpoint_archives{${NODE_NS}})`, legend: 'total' },
          { expr: `sum by (node) (checkpoint_archives{${NODE_NS}})`, legend: '{{node}}' },
        ],
        width: 6,
        height: 8,
        min: 0,
      }),
      timeseriesPanel({
        title: 'Archive bytes',
        description: 'Bytes held by settled, identified archives: fleet total and per node.',
        unit: 'bytes',
        queries: [
          { expr: `sum(checkpoint_archive_bytes{${NODE_NS}})`, legend: 'total' },
          { expr: `sum by (node) (checkpoint_archive_bytes{${NODE_NS}})`, legend: '{{node}}' },
        ],
        width: 6,
        height: 8,
        min: 0,
      }),
      timeseriesPanel({
        title: 'Checkpoint filesystem usage',
        description:
          'Share of the filesystem holding the checkpoint directory that is not available to non-root users, per node. Dashed lines: the disk-pressure marks of the policy in force (checkpoint_retention_disk_pressure_high_ratio and _low_ratio), where cleanup starts and where it stops; without a diskPressure policy there are no lines and no disk-pressure cleanup. Where nodes run different policies the lines show the highest marks. The cleanup measures usage as df does, used ÷ (used + available), which reads a little lower where the filesystem reserves blocks for root.',
        unit: 'percentunit',
        queries: [
          { expr: `1 - (checkpoint_filesystem_avail_bytes{${NODE}} / checkpoint_filesystem_size_bytes{${NODE}})`, legend: '{{node}}' },
          { expr: `max(checkpoint_retention_disk_pressure_high_ratio{${NODE}})`, legend: 'disk-pressure cleanup starts (high mark)' },
          { expr: `max(checkpoint_retention_disk_pressure_low_ratio{${NODE}})`, legend: 'disk-pressure cleanup stops (low mark)' },
        ],
        markLines: [
          { refId: 'B', color: 'red' },
          { refId: 'C', color: 'orange' },
        ],
        width: 6,
        height: 8,
        min: 0,
        max: 1,
      }),
      timeseriesPanel({
        title: "Checkpoints' share of the disk",
        description:
          'Bytes of checkpoint archives, identified and unidentified, and of pod-level archives (KEP-5823), as a share of the size of the filesystem holding the checkpoint directory, per node: the most that deleting archives can free. Where it is small and the filesystem is full anyway, something else fills the disk. Read from the node-level totals, so it is there with --no-container-metrics too.',
        unit: 'percentunit',
        queries: [
          {
            // Pod-level archives count as 0 where an exporter watches no pod checkpoint directory.
            expr: `(checkpoint_identified_archive_bytes{${NODE}} + checkpoint_unidentified_archive_bytes{${NODE}} + (checkpoint_pod_archives_total_bytes{${NODE}} or checkpoint_identified_archive_bytes{${NODE}} * 0)) / checkpoint_filesystem_size_bytes{${NODE}}`,
            legend: '{{node}}',
          },
        ],
        width: 6,
        height: 8,
        min: 0,
      }),
      tablePanel({
        title: 'Top containers by bytes',
        description: `The ${TOP_CONTAINERS} containers whose archives take the most space. A row opens the container's dashboard.`,
        unit: 'bytes',
        queries: [
          {
            expr: `topk(${TOP_CONTAINERS}, sum by (cluster, node, namespace, pod, container) (checkpoint_archive_bytes{${NODE_NS}}))`,
            legend: 'bytes',
          },
        ],
        transformations: [
          { id: 'organize', options: { excludeByName: { Time: true }, renameByName: { Value: 'Bytes' } } },
          { id: 'sortBy', options: { sort: [{ field: 'Bytes', desc: true }] } },
        ],
        links: [containerDashboardLink()],
        width: 12,
        height: 8,
      }),
      barGaugePanel({
        title: 'Archive bytes by namespace',
        description: 'Bytes held by identified archives, per namespace, on the selected nodes.',
        unit: 'bytes',
        queries: [{ expr: `sort_desc(sum by (namespace) (checkpoint_archive_bytes{${NODE_NS}}))`, legend: '{{namespace}}' }],
        width: 12,
        height: 8,
      }),
      tablePanel({
        title: 'Top pods by pod-level archive bytes',
        description: `The ${TOP_CONTAINERS} pods whose pod-level archives (KEP-5823, the kubelet's pod checkpoint directory) take the most space. They are measured, never deleted by the exporter.`,
        unit: 'bytes',
        queries: [{ expr: `topk(${TOP_CONTAINERS}, sum by (cluster, node, namespace, pod) (checkpoint_pod_archive_bytes{${NODE_NS}}))`, legend: 'bytes' }],
        transformations: [
          { id: 'organize', options: { excludeByName: { Time: true }, renameByName: { Value: 'Bytes' } } },
          { id: 'sortBy', options: { sort: [{ field: 'Bytes', desc: true }] } },
        ],
        width: 12,
        height: 8,
      }),
      barGaugePanel({
        title: 'Pod-level archive bytes by part',
        description: "What pod-level archives hold on the selected nodes, from their tar headers: each container directory's memory, checkpoint_other and rootfs_diff, and the pod's own files as other.",
        unit: 'bytes',
        queries: [{ expr: `sum by (part) (checkpoint_pod_archive_content_bytes{${NODE_NS}})`, legend: '{{part}}' }],
        width: 12,
        height: 8,
      }),
      row('What fills the archives'),
      timeseriesPanel({
        title: 'Archive bytes by part',
        description:
          'What identified archives hold on the selected nodes, stacked: memory (CRIU page images), checkpoint_other (the other CRIU images), rootfs_diff (changes to root filesystems) and other (dump files, logs, tar headers). Compressed archives count decompressed sizes.',
        unit: 'bytes',
        queries: [{ expr: `sum by (part) (checkpoint_archive_content_bytes{${NODE_NS}})`, legend: '{{part}}' }],
        width: 12,
        height: 8,
        min: 0,
        stack: true,
      }),
      barGaugePanel({
        title: 'Archive bytes by node and part',
        description: 'The same parts per node: where memory images, root filesystem changes or the rest take the space.',
        unit: 'bytes',
        queries: [{ expr: `sort_desc(sum by (node, part) (checkpoint_archive_content_bytes{${NODE_NS}}))`, legend: '{{node}} {{part}}' }],
        width: 6,
        height: 8,
      }),
      statPanel({
        title: 'Archives that cannot be restored',
        description: 'Identified archives missing spec.dump, config.dump or checkpoint/inventory.img on the selected nodes; `checkpoint-exporter ls -o wide` lists them.',
        unit: 'short',
        queries: [{ expr: `sum(checkpoint_archives_unrestorable{${NODE_NS}}) or vector(0)` }],
        width: 6,
        height: 8,
        thresholds: [{ value: 1, color: 'orange' }],
      }),
      row('Retention'),
      timeseriesPanel({
        title: 'Deletions by reason',
        description: 'Archives deleted by retention per second, by the rule that selected them.',
        unit: 'ops',
        queries: [
          {
            expr: `sum by (reason) (rate(checkpoint_retention_deletions_total{${NODE_NS}}[$__rate_interval]))`,
            legend: '{{reason}}',
          },
        ],
        width: 8,
        height: 8,
        min: 0,
      }),
      timeseriesPanel({
        title: 'Deleted bytes by reason',
        description: 'Bytes freed by retention per second, by the rule that selected the archives.',
        unit: 'Bps',
        queries: [
          {
            expr: `sum by (reason) (rate(checkpoint_retention_deleted_bytes_total{${NODE_NS}}[$__rate_interval]))`,
            legend: '{{reason}}',
          },
        ],
        width: 8,
        height: 8,
        min: 0,
      }),
      timeseriesPanel({
        title: 'Planned deletions by reason',
        description: 'Deletions the last retention plan selected; in dry run they stay here instead of happening.',
        unit: 'short',
        queries: [{ expr: `sum by (reason) (checkpoint_retention_planned_deletions{${NODE}})`, legend: '{{reason}}' }],
        width: 8,
        height: 8,
        min: 0,
      }),
      timeseriesPanel({
        title: 'Orphaned, pinned, unidentified and unrecognized',
        description:
          'Orphaned archives (pod gone), pinned archives (.keep file), unidentified archives (no readable identity) and unrecognized files in the checkpoint directory.',
        unit: 'short',
        queries: [
          // Both families are exported only where there is something to count: absent means none.
          { expr: `sum(checkpoint_archives_orphaned{${NODE_NS}}) or vector(0)`, legend: 'orphaned' },
          { expr: `sum(checkpoint_archives_pinned{${NODE_NS}}) or vector(0)`, legend: 'pinned' },
          { expr: `sum(checkpoint_unidentified_archives{${NODE}})`, legend: 'unidentified' },
          { expr: `sum(checkpoint_unrecognized_files{${NODE}})`, legend: 'unrecognized files' },
        ],
        width: 8,
        height: 8,
        min: 0,
      }),
      barGaugePanel({
        title: 'Unidentified and unrecognized bytes',
        description: 'Space taken by archives without an identity and by foreign files; per-container limits never remove either.',
        unit: 'bytes',
        queries: [
          { expr: `sum by (node) (checkpoint_unidentified_archive_bytes{${NODE}})`, legend: '{{node}} unidentified' },
          { expr: `sum by (node) (checkpoint_unrecognized_file_bytes{${NODE}})`, legend: '{{node}} unrecognized' },
        ],
        width: 8,
        height: 8,
      }),
      timeseriesPanel({
        title: 'Retention errors',
        description: 'Failed retention operations per second, by node and operation.',
        unit: 'ops',
        queries: [
          {
            expr: `sum by (node, operation) (rate(checkpoint_retention_errors_total{${NODE}}[$__rate_interval]))`,
            legend: '{{node}} {{operation}}',
          },
        ],
        width: 8,
        height: 8,
        min: 0,
      }),
      statPanel({
        title: 'Unsatisfiable limits',
        description: 'Limits that pinned archives currently keep from being met.',
        unit: 'short',
        queries: [{ expr: `count(checkpoint_retention_limit_unsatisfiable{${NODE_NS}} == 1) or vector(0)` }],
        width: 6,
        height: 6,
        thresholds: [{ value: 1, color: 'orange' }],
      }),
      tablePanel({
        title: 'Unsatisfiable limits by scope',
        description: 'Each limit pinned archives keep from being met; empty pod or container means a namespace- or pod-level limit. A row opens the container\'s dashboard.',
        unit: 'short',
        queries: [
          {
            expr: `max by (cluster, node, namespace, pod, container, limit) (checkpoint_retention_limit_unsatisfiable{${NODE_NS}})`,
            legend: 'unsatisfiable',
          },
        ],
        transformations: [{ id: 'organize', options: { excludeByName: { Time: true, Value: true } } }],
        links: [containerDashboardLink()],
        width: 18,
        height: 6,
      }),
      timeseriesPanel({
        title: 'Offloads by result',
        description:
          'With --offload-to: archives copied and verified before their deletion (offloaded), copies that failed and kept the archive (failed), and runs that skipped an archive while it backs off (backoff), per second.',
        unit: 'ops',
        queries: [{ expr: `sum by (result) (rate(checkpoint_offload_archives_total{${NODE}}[$__rate_interval]))`, legend: '{{result}}' }],
        width: 12,
        height: 8,
        min: 0,
      }),
      timeseriesPanel({
        title: 'Offload queue and failing archives',
        description:
          'Archives waiting for or in a copy, and archives whose offload failed 3 times in a row and stay on the node (CheckpointOffloadFailing); `checkpoint-exporter plan` lists what retention keeps trying to remove.',
        unit: 'short',
        queries: [
          { expr: `sum(checkpoint_offload_queue_archives{${NODE}})`, legend: 'queued or copying' },
          { expr: `sum(checkpoint_offload_failing_archives{${NODE}})`, legend: 'failing' },
        ],
        width: 12,
        height: 8,
        min: 0,
      }),
    ]),
  });
}
