import { beforeAll, describe, expect, it } from '@jest/globals';
import yaml from 'js-yaml';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { IDaemonSet } from 'kubernetes-models/apps/v1/DaemonSet';
import type { IConfigMap } from 'kubernetes-models/v1/ConfigMap';
import type { IService } from 'kubernetes-models/v1/Service';
import type { IPrometheusRule } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PrometheusRule';
import type { IServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor';
import { GRAFANA_DASHBOARD_LABEL, renderManifestFiles } from '../../scripts/generate-manifests.js';
import { findObject, type KubeObject } from './support/kube-object.js';
import { loadTarget, ROOT } from './support/targets.js';

/**
 * Client-side `kubectl apply` copies the whole object into the last-applied-configuration
 * annotation, and all annotations of an object share a 256 KiB limit.
 */
const MAX_APPLIED_OBJECT_BYTES = 256 * 1024;

let objects: KubeObject[];
let service: IService;
let monitor: IServiceMonitor;
let daemonSet: IDaemonSet;

beforeAll(async () => {
  objects = await loadTarget('install');
  service = findObject(objects, 'Service', 'checkpoint-exporter') as unknown as IService;
  monitor = findObject(objects, 'ServiceMonitor', 'checkpoint-exporter') as unknown as IServiceMonitor;
  daemonSet = findObject(objects, 'DaemonSet', 'checkpoint-exporter') as unknown as IDaemonSet;
});

/** Every `expr` string anywhere in a dashboard: panel targets and query variables alike. */
function collectExprs(node: unknown): string[] {
  if (Array.isArray(node)) return node.flatMap(collectExprs);
  if (typeof node !== 'object' || node === null) return [];
  return Object.entries(node).flatMap(([key, value]) => (key === 'expr' && typeof value === 'string' ? [value] : collectExprs(value)));
}

describe('scraping', () => {
  it('has a headless Service selecting the exporter pods on their named metrics port', () => {
    expect(service.spec?.clusterIP).toBe('None');
    expect(daemonSet.spec?.template.metadata?.labels).toMatchObject(service.spec?.selector ?? { missing: 'selector' });
    const containerPorts = daemonSet.spec?.template.spec?.containers.flatMap((container) => container.ports ?? []) ?? [];
    expect(service.spec?.ports).toEqual([{ name: 'metrics', port: 9873, targetPort: 'metrics', protocol: 'TCP' }]);
    expect(containerPorts.map((port) => port.name)).toContain('metrics');
  });

  it('has a ServiceMonitor that selects that Service and scrapes its metrics port', () => {
    expect(service.metadata?.labels).toMatchObject(monitor.spec.selector.matchLabels ?? { missing: 'matchLabels' });
    expect(monitor.spec.namespaceSelector).toBeUndefined();
    expect(monitor.metadata?.namespace).toBe(service.metadata?.namespace);
    expect(monitor.spec.endpoints?.map(({ port, path: metricsPath }) => ({ port, path: metricsPath }))).toEqual([{ port: 'metrics', path: '/metrics' }]);
  });

  it('names the job checkpoint-exporter, as the alerts and dashboards expect', () => {
    expect(monitor.spec.jobLabel).toBeUndefined();
    expect(monitor.spec.endpoints?.[0]?.relabelings?.[0]).toEqual({ action: 'replace', targetLabel: 'job', replacement: 'checkpoint-exporter' });
  });

  it('discovers targets through EndpointSlices, which have no 1,000-address limit', () => {
    expect((monitor.spec as { serviceDiscoveryRole?: string }).serviceDiscoveryRole).toBe('EndpointSlice');
  });

  it('is the job every shipped alert and dashboard query selects', () => {
    const rule = findObject(objects, 'PrometheusRule', 'checkpoint-exporter') as unknown as IPrometheusRule;
    const configMap = findObject(objects, 'ConfigMap', 'checkpoint-exporter-dashboards') as unknown as IConfigMap;
    const alertExprs = (rule.spec.groups ?? []).flatMap((group) => group.rules ?? []).map((entry) => String(entry.expr));
    const dashboardExprs = Object.values(configMap.data ?? {}).flatMap((json) => collectExprs(JSON.parse(json)));
    const selectors = (exprs: string[]): Set<string> => new Set(exprs.flatMap((expr) => [...expr.matchAll(/\bjob\s*(?:=~|!=|!~|=)\s*"[^"]*"/g)].map((match) => match[0])));
    expect(selectors(alertExprs)).toEqual(new Set(['job="checkpoint-exporter"']));
    expect(selectors(dashboardExprs)).toEqual(new Set(['job="checkpoint-exporter"']));
  });

  it('labels each target with its node, names the instance after the node, and drops the target labels that would clash with the exporter labels', () => {
    const relabelings = monitor.spec.endpoints?.[0]?.relabelings;
    expect(relabelings).toEqual([
      { action: 'replace', targetLabel: 'job', replacement: 'checkpoint-exporter' },
      { action: 'replace', sourceLabels: ['__meta_kubernetes_pod_node_name'], targetLabel: 'node' },
      { action: 'replace', sourceLabels: ['__meta_kubernetes_pod_node_name'], targetLabel: 'instance' },
      { action: 'labeldrop', regex: '(namespace|pod|container)' },
    ]);
    expect(monitor.spec.endpoints?.[0]?.honorLabels).toBeUndefined();
  });
});

describe('generated monitoring manifests', () => {
  it.each(Object.keys(renderManifestFiles()))('%s is current with its source (run `npm run generate` if not)', async (relative) => {
    const committed = await readFile(path.join(ROOT, relative), 'utf8');
    expect(committed).toBe(renderManifestFiles()[relative]);
  });

  it('ships the same rule groups as the rules file Prometheus and promtool load', async () => {
    const rule = findObject(objects, 'PrometheusRule', 'checkpoint-exporter') as unknown as IPrometheusRule;
    const rulesFile = yaml.load(await readFile(path.join(ROOT, 'alerts', 'checkpoint-exporter.rules.yaml'), 'utf8')) as { groups: unknown };
    expect(rule.spec.groups).toEqual(rulesFile.groups);
    expect(rule.spec.groups?.flatMap((group) => group.rules ?? []).length).toBeGreaterThan(0);
  });

  it('ships every dashboard byte for byte as committed in dashboards/, labelled for the Grafana sidecar', async () => {
    const configMap = findObject(objects, 'ConfigMap', 'checkpoint-exporter-dashboards') as unknown as IConfigMap;
    expect(configMap.metadata?.labels?.[GRAFANA_DASHBOARD_LABEL]).toBe('1');
    const data = configMap.data ?? {};
    expect(Object.keys(data).length).toBeGreaterThan(0);
    for (const [fileName, json] of Object.entries(data)) {
      expect(json).toBe(await readFile(path.join(ROOT, 'dashboards', fileName), 'utf8'));
      expect(JSON.parse(json)).toMatchObject({ title: expect.any(String), uid: expect.any(String) });
    }
  });

  it.each(['PrometheusRule', 'ConfigMap', 'CustomResourceDefinition', 'DaemonSet'])('the %s fits in a client-side apply annotation', (kind) => {
    for (const object of objects.filter((candidate) => candidate.kind === kind)) {
      expect(Buffer.byteLength(JSON.stringify(object))).toBeLessThan(MAX_APPLIED_OBJECT_BYTES);
    }
  });
});
