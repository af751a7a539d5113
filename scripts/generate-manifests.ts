/**
 * Renders the generated parts of the kustomize manifests and of the Helm chart, each from its one source:
 *   npx tsx scripts/generate-manifests.ts
 *
 * - alerts/rules.ts → manifests/monitoring/prometheus-rule.yaml and the chart's PrometheusRule template;
 * - dashboards/*.ts → manifests/monitoring/dashboards-configmap.yaml and the chart's files/dashboards/;
 * - manifests/crd/ → the chart's files/crds/ (Helm, like kustomize, cannot read files outside its root);
 * - charts/checkpoint-exporter/values.yaml (resources, probes, security context, scheduling) →
 *   manifests/base/daemonset.yaml, so the kustomize DaemonSet and the chart's default render agree.
 *
 * Tests call `renderManifestFiles` to check the committed copies are current.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import yaml from 'js-yaml';
import type { Dashboard } from '@grafana/schema';
import { buildAlertRuleGroups, buildAlertRuleGroupsFromText, DEFAULT_ALERT_THRESHOLDS, type AlertRuleGroup, type AlertThresholds } from '../alerts/rules.js';
import { buildDashboards, renderDashboardJson } from '../dashboards/index.js';
import { isMainModule, REPOSITORY_ROOT, writeRenderedFiles } from './write-rendered-files.js';

export const PROMETHEUS_RULE_FILE = 'manifests/monitoring/prometheus-rule.yaml';
export const DASHBOARDS_CONFIGMAP_FILE = 'manifests/monitoring/dashboards-configmap.yaml';
export const DAEMONSET_FILE = 'manifests/base/daemonset.yaml';
export const CRD_SOURCE_FILE = 'manifests/crd/checkpointrestoreoperators.criu.org.yaml';
export const CHART_DIR = 'charts/checkpoint-exporter';
export const CHART_VALUES_FILE = `${CHART_DIR}/values.yaml`;
export const CHART_PROMETHEUS_RULE_TEMPLATE = `${CHART_DIR}/templates/prometheusrule.yaml`;
export const CHART_CRD_FILE = `${CHART_DIR}/files/crds/checkpointrestoreoperators.criu.org.yaml`;
export const CHART_DASHBOARDS_DIR = `${CHART_DIR}/files/dashboards`;

const NAME = 'checkpoint-exporter';
const NAMESPACE = 'checkpoint-exporter';
const COMMON_LABELS = { 'app.kubernetes.io/name': NAME } as const;
/** The container's name: the runbooks' `kubectl exec -c` and the chart use it too. */
export const CONTAINER_NAME = 'exporter';
/**
 * The image name the kustomize DaemonSet carries; manifests/base/kustomization.yaml's `images:` turns it
 * into the real coordinates, and overlays change them there.
 */
export const KUSTOMIZE_IMAGE_NAME = NAME;

/**
 * The label the Grafana dashboard sidecar (kube-prometheus-stack, grafana chart) watches ConfigMaps
 * for, with its default value.
 */
export const GRAFANA_DASHBOARD_LABEL = 'grafana_dashboard';

const header = (source: string): string => `# Generated from ${source} by scripts/generate-manifests.ts: edit the source, then run \`npm run generate\`.\n`;

function dump(object: unknown): string {
  return yaml.dump(object, { lineWidth: -1, noRefs: true, quotingType: '"' });
}

export function renderPrometheusRule(groups: readonly AlertRuleGroup[]): string {
  const rule = {
    apiVersion: 'monitoring.coreos.com/v1',
    kind: 'PrometheusRule',
    metadata: { name: NAME, namespace: NAMESPACE, labels: { ...COMMON_LABELS } },
    spec: { groups },
  };
  return header('alerts/rules.ts') + dump(rule);
}

/** Each dashboard under its dashboards/ file name, byte for byte the committed JSON. */
export function renderDashboardsConfigMap(dashboards: Readonly<Record<string, Dashboard>>): string {
  const data = Object.fromEntries(
    Object.entries(dashboards)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([fileName, dashboard]) => [fileName, renderDashboardJson(dashboard)]),
  );
  const configMap = {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: `${NAME}-dashboards`, namespace: NAMESPACE, labels: { ...COMMON_LABELS, [GRAFANA_DASHBOARD_LABEL]: '1' } },
    data,
  };
  return header('dashboards/*.ts') + dump(configMap);
}

/** Placeholders the chart template generator puts where Helm expressions go; they occur nowhere else. */
const PLACEHOLDER = (name: string): string => `HELMVALUE${name.toUpperCase()}HELMVALUE`;

/**
 * The chart's PrometheusRule: the same rules, with the job, the runbook base URL and every threshold
 * taken from the release's values. Prometheus templates in the annotations (`{{ $labels.node }}`) are
 * escaped so Helm prints them as they are.
 */
export function renderChartPrometheusRuleTemplate(): string {
  const thresholdNames = Object.keys(DEFAULT_ALERT_THRESHOLDS) as Array<keyof AlertThresholds>;
  const groups = buildAlertRuleGroupsFromText({
    forScale: 1,
    job: PLACEHOLDER('job'),
    runbookBaseUrl: PLACEHOLDER('runbookBaseUrl'),
    thresholds: Object.fromEntries(thresholdNames.map((name) => [name, PLACEHOLDER(name)])) as Record<keyof AlertThresholds, string>,
  });
  const body = dump({ groups })
    // Prometheus template delimiters, escaped in one pass so the escapes themselves are left alone.
    .replace(/\{\{|\}\}/g, (delimiter) => (delimiter === '{{' ? '{{ "{{" }}' : '{{ "}}" }}'))
    .replace(
      new RegExp(`^(\\s*)runbook_url: ${PLACEHOLDER('runbookBaseUrl')}#([a-z]+)$`, 'gm'),
      (_line, indent: string, anchor: string) => `${indent}runbook_url: {{ printf "%s#%s" $runbookBaseUrl "${anchor}" | quote }}`,
    )
    .replaceAll(PLACEHOLDER('job'), '{{ .Values.job }}');
  let withThresholds = body;
  for (const name of thresholdNames) withThresholds = withThresholds.replaceAll(PLACEHOLDER(name), `{{ $thresholds.${name} }}`);
  const leftover = /HELMVALUE\w+HELMVALUE/.exec(withThresholds);
  if (leftover !== null) throw new Error(`chart PrometheusRule template: placeholder ${leftover[0]} was not replaced`);
  return [
    '{{- /* Generated from alerts/rules.ts by scripts/generate-manifests.ts: edit the source, then run `npm run generate`. */}}',
    '{{- if .Values.prometheusRule.enabled }}',
    '{{- $runbookBaseUrl := required "prometheusRule.runbookBaseUrl is required" .Values.prometheusRule.runbookBaseUrl }}',
    '{{- $thresholds := .Values.prometheusRule.thresholds }}',
    '{{- if gt (float64 $thresholds.fillingUpCriticalPercent) (float64 $thresholds.fillingUpWarningPercent) }}',
    '{{- fail "prometheusRule.thresholds.fillingUpCriticalPercent must not exceed fillingUpWarningPercent" }}',
    '{{- end }}',
    '{{- if gt (float64 $thresholds.almostFullCriticalPercent) (float64 $thresholds.almostFullWarningPercent) }}',
    '{{- fail "prometheusRule.thresholds.almostFullCriticalPercent must not exceed almostFullWarningPercent" }}',
    '{{- end }}',
    'apiVersion: monitoring.coreos.com/v1',
    'kind: PrometheusRule',
    'metadata:',
    '  name: {{ include "checkpoint-exporter.fullname" . }}',
    '  namespace: {{ .Release.Namespace }}',
    '  labels:',
    '    {{- include "checkpoint-exporter.labels" . | nindent 4 }}',
    '    {{- with .Values.prometheusRule.labels }}',
    '    {{- toYaml . | nindent 4 }}',
    '    {{- end }}',
    'spec:',
    ...withThresholds
      .trimEnd()
      .split('\n')
      .map((line) => `  ${line}`),
    '{{- end }}',
    '',
  ].join('\n');
}

/** The part of the chart's values.yaml the kustomize DaemonSet is built from. */
export interface WorkloadValues {
  readonly image: { readonly pullPolicy: string };
  readonly checkpointDir: string;
  readonly podCheckpointDir: string;
  readonly stateDir: string;
  readonly containerMetrics: string;
  readonly port: number;
  readonly resources: object;
  readonly startupProbe: object;
  readonly readinessProbe: object;
  readonly livenessProbe: object;
  readonly podSecurityContext: object;
  readonly securityContext: object;
  readonly priorityClassName: string;
  readonly tolerations: readonly object[];
  readonly nodeSelector: Readonly<Record<string, string>>;
  readonly updateStrategy: object;
  readonly prometheusScrapeAnnotations: boolean;
}

export function readChartValues(root = REPOSITORY_ROOT): WorkloadValues {
  return yaml.load(readFileSync(path.join(root, CHART_VALUES_FILE), 'utf8')) as WorkloadValues;
}

export function readPackageVersion(root = REPOSITORY_ROOT): string {
  return (JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { version: string }).version;
}

/**
 * The DaemonSet of the kustomize base: what the chart renders with its default values for a release
 * named checkpoint-exporter, minus Helm's own labels.
 */
export function renderKustomizeDaemonSet(values: WorkloadValues, version: string): string {
  const labels = { ...COMMON_LABELS, 'app.kubernetes.io/version': version };
  const daemonSet = {
    apiVersion: 'apps/v1',
    kind: 'DaemonSet',
    metadata: { name: NAME, namespace: NAMESPACE, labels },
    spec: {
      selector: { matchLabels: { ...COMMON_LABELS } },
      updateStrategy: values.updateStrategy,
      template: {
        metadata: {
          labels,
          ...(values.prometheusScrapeAnnotations
            ? { annotations: { 'prometheus.io/scrape': 'true', 'prometheus.io/port': String(values.port), 'prometheus.io/path': '/metrics' } }
            : {}),
        },
        spec: {
          serviceAccountName: NAME,
          priorityClassName: values.priorityClassName,
          tolerations: values.tolerations,
          nodeSelector: values.nodeSelector,
          securityContext: values.podSecurityContext,
          containers: [
            {
              name: CONTAINER_NAME,
              image: KUSTOMIZE_IMAGE_NAME,
              imagePullPolicy: values.image.pullPolicy,
              args: [
                'serve',
                '--checkpoint-dir',
                values.checkpointDir,
                '--pod-checkpoint-dir',
                values.podCheckpointDir,
                '--listen-address',
                `0.0.0.0:${values.port}`,
                '--container-metrics',
                values.containerMetrics,
                ...(values.stateDir === '' ? [] : ['--state-dir', values.stateDir]),
              ],
              env: [
                { name: 'NODE_NAME', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } },
                { name: 'POD_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
              ],
              ports: [{ name: 'metrics', containerPort: values.port, protocol: 'TCP' }],
              startupProbe: values.startupProbe,
              readinessProbe: values.readinessProbe,
              livenessProbe: values.livenessProbe,
              resources: values.resources,
              securityContext: values.securityContext,
              volumeMounts: [
                { name: 'checkpoints', mountPath: values.checkpointDir },
                { name: 'pod-checkpoints', mountPath: values.podCheckpointDir },
                ...(values.stateDir === '' ? [] : [{ name: 'state', mountPath: values.stateDir }]),
              ],
            },
          ],
          volumes: [
            { name: 'checkpoints', hostPath: { path: values.checkpointDir, type: 'DirectoryOrCreate' } },
            { name: 'pod-checkpoints', hostPath: { path: values.podCheckpointDir, type: 'DirectoryOrCreate' } },
            ...(values.stateDir === '' ? [] : [{ name: 'state', hostPath: { path: values.stateDir, type: 'DirectoryOrCreate' } }]),
          ],
        },
      },
    },
  };
  const explanation = [
    '# The settings and the reasons for them are in the chart\'s values.yaml: resources, probes, security context,',
    '# scheduling and rollout pace. The image name is set by images: in kustomization.yaml.',
    '',
  ].join('\n');
  return header(CHART_VALUES_FILE) + explanation + dump(daemonSet);
}

/** Repository-relative path → file content. */
export function renderManifestFiles(root = REPOSITORY_ROOT): Record<string, string> {
  const dashboards = buildDashboards();
  const files: Record<string, string> = {
    [PROMETHEUS_RULE_FILE]: renderPrometheusRule(buildAlertRuleGroups()),
    [DASHBOARDS_CONFIGMAP_FILE]: renderDashboardsConfigMap(dashboards),
    [DAEMONSET_FILE]: renderKustomizeDaemonSet(readChartValues(root), readPackageVersion(root)),
    [CHART_PROMETHEUS_RULE_TEMPLATE]: renderChartPrometheusRuleTemplate(),
    [CHART_CRD_FILE]: readFileSync(path.join(root, CRD_SOURCE_FILE), 'utf8'),
  };
  for (const [fileName, dashboard] of Object.entries(dashboards)) files[`${CHART_DASHBOARDS_DIR}/${fileName}`] = renderDashboardJson(dashboard);
  return files;
}

if (isMainModule(import.meta.url)) await writeRenderedFiles(renderManifestFiles());
