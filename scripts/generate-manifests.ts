/**
 * Renders the Prometheus Operator objects that ship the alerts and dashboards, from the same sources
 * as alerts/ and dashboards/:
 *   npx tsx scripts/generate-manifests.ts
 * The copies live in manifests/monitoring because kustomize refuses to load files outside its root.
 * Tests call `renderManifestFiles` to check the committed copies are current.
 */
import yaml from 'js-yaml';
import type { Dashboard } from '@grafana/schema';
import { buildAlertRuleGroups, type AlertRuleGroup } from '../alerts/rules.js';
import { buildDashboards, renderDashboardJson } from '../dashboards/index.js';
import { isMainModule, writeRenderedFiles } from './write-rendered-files.js';

export const PROMETHEUS_RULE_FILE = 'manifests/monitoring/prometheus-rule.yaml';
export const DASHBOARDS_CONFIGMAP_FILE = 'manifests/monitoring/dashboards-configmap.yaml';

const NAME = 'checkpoint-exporter';
const NAMESPACE = 'checkpoint-exporter';
const COMMON_LABELS = { 'app.kubernetes.io/name': NAME } as const;

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

/** Repository-relative path → file content. */
export function renderManifestFiles(): Record<string, string> {
  return {
    [PROMETHEUS_RULE_FILE]: renderPrometheusRule(buildAlertRuleGroups()),
    [DASHBOARDS_CONFIGMAP_FILE]: renderDashboardsConfigMap(buildDashboards()),
  };
}

if (isMainModule(import.meta.url)) await writeRenderedFiles(renderManifestFiles());
