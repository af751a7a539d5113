import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from '@jest/globals';
import yaml from 'js-yaml';
import type { IDaemonSet } from 'kubernetes-models/apps/v1/DaemonSet';
import type { IConfigMap } from 'kubernetes-models/v1/ConfigMap';
import type { IService } from 'kubernetes-models/v1/Service';
import type { IClusterRole } from 'kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRole';
import type { IClusterRoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRoleBinding';
import type { INetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy';
import type { IPrometheusRule } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PrometheusRule';
import type { IServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor';
import type { IPodMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PodMonitor';
import { buildAlertRuleGroups, DEFAULT_ALERT_THRESHOLDS, DEFAULT_RUNBOOK_BASE_URL, SCRAPE_JOB } from '../../alerts/rules.js';
import { renderRulesYaml } from '../../alerts/render.js';
import { CHART_DIR, GRAFANA_DASHBOARD_LABEL } from '../../scripts/generate-manifests.js';
import { parsePolicyDocument } from '../../src/retention/policy-document.js';
import { findBinary } from '../support/binaries.js';
import { loadCrd } from '../manifests/support/crd-schema.js';
import { findObject, identify, type KubeObject } from '../manifests/support/kube-object.js';
import { validateWithModel } from '../manifests/support/models.js';
import { loadTarget, ROOT } from '../manifests/support/targets.js';
import { CHART, helm, helmUnavailableReason, renderChart } from './support/helm.js';

/**
 * The Helm chart, rendered by the real helm 3: lint, defaults, every optional object, the values that
 * change the workload, and agreement with the kustomize manifests and the generated alerts/dashboards.
 */

const run = promisify(execFile);
const withHelm = helmUnavailableReason() === undefined ? describe : describe.skip;

const POLICY = [
  'apiVersion: criu.org/v1',
  'kind: CheckpointRestoreOperator',
  'metadata:',
  '  name: node-defaults',
  'spec:',
  '  globalPolicy:',
  '    maxCheckpointsPerContainer: 5',
  '    maxCheckpointAge: 7d',
  '',
].join('\n');

/** Every optional object on; the PodMonitor is the ServiceMonitor's alternative and is rendered separately. */
const EVERYTHING = {
  policy: POLICY,
  crd: { install: true },
  serviceMonitor: { enabled: true, labels: { release: 'kube-prometheus-stack' } },
  prometheusRule: { enabled: true, labels: { release: 'kube-prometheus-stack' } },
  dashboards: { enabled: true },
  networkPolicy: { enabled: true },
};

const DEFAULT_OBJECTS = [
  'ServiceAccount/checkpoint-exporter/checkpoint-exporter',
  'ClusterRole/checkpoint-exporter',
  'ClusterRoleBinding/checkpoint-exporter',
  'Service/checkpoint-exporter/checkpoint-exporter',
  'DaemonSet/checkpoint-exporter/checkpoint-exporter',
];

/** helm template leaves cluster-scoped objects without a namespace, as kustomize does. */
function identities(objects: readonly KubeObject[]): string[] {
  return objects.map(identify).sort();
}

function daemonSetOf(objects: readonly KubeObject[], name = 'checkpoint-exporter'): IDaemonSet {
  return findObject(objects, 'DaemonSet', name) as unknown as IDaemonSet;
}

function exporterOf(objects: readonly KubeObject[], name = 'checkpoint-exporter'): NonNullable<IDaemonSet['spec']>['template']['spec'] & object {
  const spec = daemonSetOf(objects, name).spec?.template.spec;
  if (spec === undefined) throw new Error('no pod spec');
  return spec;
}

function containerOf(objects: readonly KubeObject[], name = 'checkpoint-exporter') {
  const containers = exporterOf(objects, name).containers;
  expect(containers.map((container) => container.name)).toEqual(['exporter']);
  return containers[0] as NonNullable<(typeof containers)[0]>;
}

function leafPaths(value: unknown, prefix = ''): string[] {
  if (typeof value !== 'object' || value === null || Array.isArray(value) || Object.keys(value).length === 0) return [prefix];
  return Object.entries(value).flatMap(([key, child]) => leafPaths(child, prefix === '' ? key : `${prefix}.${key}`));
}

withHelm('helm chart', () => {
  let defaults: KubeObject[];
  let everything: KubeObject[];
  let kustomizeBase: KubeObject[];
  let kustomizeInstall: KubeObject[];

  beforeAll(async () => {
    [defaults, everything, kustomizeBase, kustomizeInstall] = await Promise.all([renderChart(), renderChart(EVERYTHING), loadTarget('base'), loadTarget('install')]);
  }, 60_000);

  describe('lint', () => {
    it.each([
      ['the defaults', []],
      ['every optional object', ['--set', 'crd.install=true,serviceMonitor.enabled=true,prometheusRule.enabled=true,dashboards.enabled=true,networkPolicy.enabled=true', '--set-string', 'policy=a: b']],
      ['the PodMonitor', ['--set', 'podMonitor.enabled=true']],
    ])('passes helm lint --strict with %s', async (_name, args) => {
      const { stdout } = await helm(['lint', '--strict', CHART, ...args]);
      expect(stdout).toContain('1 chart(s) linted, 0 chart(s) failed');
      expect(stdout).not.toMatch(/\[(WARNING|ERROR)\]/);
    });

    it('is the chart of this version', async () => {
      const chart = yaml.load(await readFile(path.join(CHART, 'Chart.yaml'), 'utf8')) as { apiVersion: string; name: string; version: string; appVersion: string };
      const { version } = JSON.parse(await readFile(path.join(ROOT, 'package.json'), 'utf8')) as { version: string };
      expect(chart).toMatchObject({ apiVersion: 'v2', name: 'checkpoint-exporter', appVersion: version });
    });
  });

  describe('rendered objects', () => {
    it('by default: the exporter, its service account, RBAC and headless Service, nothing that needs the Prometheus Operator or the CRD', () => {
      expect(identities(defaults)).toEqual([...DEFAULT_OBJECTS].sort());
    });

    it('with every optional object on: also policy, CRD, ServiceMonitor, PrometheusRule, dashboards and NetworkPolicy', () => {
      expect(identities(everything)).toEqual(
        [
          ...DEFAULT_OBJECTS,
          'ConfigMap/checkpoint-exporter/checkpoint-exporter-policy',
          'ConfigMap/checkpoint-exporter/checkpoint-exporter-dashboards',
          'CustomResourceDefinition/checkpointrestoreoperators.criu.org',
          'ServiceMonitor/checkpoint-exporter/checkpoint-exporter',
          'PrometheusRule/checkpoint-exporter/checkpoint-exporter',
          'NetworkPolicy/checkpoint-exporter/checkpoint-exporter',
        ].sort(),
      );
    });

    it('every object validates against its Kubernetes model, in each variant', async () => {
      const podMonitor = await renderChart({ podMonitor: { enabled: true } });
      for (const object of [...defaults, ...everything, ...podMonitor]) expect(() => validateWithModel(object)).not.toThrow();
      expect(podMonitor.map((object) => object.kind)).toContain('PodMonitor');
    });

    it.each([
      ['a misspelled value', { serviceMonitor: { enable: true } }, /Additional property enable is not allowed/],
      ['a threshold of 100 %', { prometheusRule: { thresholds: { almostFullCriticalPercent: 100 } } }, /almostFullCriticalPercent/],
      ['a critical mark above the warning mark', { prometheusRule: { enabled: true, thresholds: { almostFullWarningPercent: 15, almostFullCriticalPercent: 20 } } }, /must not exceed/],
      ['a critical prediction mark above the warning mark', { prometheusRule: { enabled: true, thresholds: { fillingUpWarningPercent: 10 } } }, /must not exceed/],
      ['a relative runbook URL', { prometheusRule: { runbookBaseUrl: 'docs/runbooks.md' } }, /runbookBaseUrl/],
      ['a digest that is not sha256', { image: { digest: 'latest' } }, /digest/],
      ['a relative checkpoint directory', { checkpointDir: 'checkpoints' }, /checkpointDir/],
      ['an unknown discovery role', { serviceMonitor: { serviceDiscoveryRole: 'Pod' } }, /serviceDiscoveryRole/],
    ])('refuses %s (values.schema.json and template checks)', async (_name, values, message) => {
      await expect(renderChart(values)).rejects.toThrow(message);
    });

    it('refuses a ServiceMonitor and a PodMonitor together: every node would be scraped twice', async () => {
      await expect(renderChart({ serviceMonitor: { enabled: true }, podMonitor: { enabled: true } })).rejects.toThrow(/not both/);
    });

    it('names objects after the release and selects pods of that release only', async () => {
      const objects = await renderChart({ serviceMonitor: { enabled: true } }, 'edge', 'monitoring');
      expect(identities(objects)).toEqual(
        [
          'ServiceAccount/monitoring/edge-checkpoint-exporter',
          'ClusterRole/edge-checkpoint-exporter',
          'ClusterRoleBinding/edge-checkpoint-exporter',
          'Service/monitoring/edge-checkpoint-exporter',
          'DaemonSet/monitoring/edge-checkpoint-exporter',
          'ServiceMonitor/monitoring/edge-checkpoint-exporter',
        ].sort(),
      );
      const selector = { 'app.kubernetes.io/name': 'checkpoint-exporter', 'app.kubernetes.io/instance': 'edge' };
      const daemonSet = daemonSetOf(objects, 'edge-checkpoint-exporter');
      expect(daemonSet.spec?.selector.matchLabels).toEqual(selector);
      expect(daemonSet.spec?.template.metadata?.labels).toMatchObject(selector);
      expect((findObject(objects, 'Service', 'edge-checkpoint-exporter') as unknown as IService).spec?.selector).toEqual(selector);
      expect((findObject(objects, 'ServiceMonitor', 'edge-checkpoint-exporter') as unknown as IServiceMonitor).spec.selector.matchLabels).toEqual(selector);
      const binding = findObject(objects, 'ClusterRoleBinding', 'edge-checkpoint-exporter') as unknown as IClusterRoleBinding;
      expect(binding.subjects).toEqual([{ kind: 'ServiceAccount', name: 'edge-checkpoint-exporter', namespace: 'monitoring' }]);
      expect(binding.roleRef.name).toBe('edge-checkpoint-exporter');
    });
  });

  describe('the default render and the kustomize base', () => {
    it('run the same pod: container, image, arguments, probes, resources, security context, mounts, volumes, scheduling', () => {
      expect(exporterOf(defaults)).toEqual(exporterOf(kustomizeBase));
    });

    it('roll out the same way and carry the same scrape annotations', () => {
      const helmDaemonSet = daemonSetOf(defaults);
      const kustomizeDaemonSet = daemonSetOf(kustomizeBase);
      expect(helmDaemonSet.spec?.updateStrategy).toEqual(kustomizeDaemonSet.spec?.updateStrategy);
      expect(helmDaemonSet.spec?.template.metadata?.annotations).toEqual(kustomizeDaemonSet.spec?.template.metadata?.annotations);
      expect(helmDaemonSet.spec?.template.metadata?.labels).toMatchObject(kustomizeDaemonSet.spec?.template.metadata?.labels ?? { missing: 'labels' });
    });

    it('grant the same RBAC rules to the same service account', () => {
      const rules = (objects: KubeObject[]): unknown => (findObject(objects, 'ClusterRole', 'checkpoint-exporter') as unknown as IClusterRole).rules;
      expect(rules(defaults)).toEqual(rules(kustomizeBase));
      const subjects = (objects: KubeObject[]): unknown => (findObject(objects, 'ClusterRoleBinding', 'checkpoint-exporter') as unknown as IClusterRoleBinding).subjects;
      expect(subjects(defaults)).toEqual(subjects(kustomizeBase));
    });

    it('expose the same headless Service ports', () => {
      const spec = (objects: KubeObject[]): unknown => {
        const service = findObject(objects, 'Service', 'checkpoint-exporter') as unknown as IService;
        return { clusterIP: service.spec?.clusterIP, ports: service.spec?.ports };
      };
      expect(spec(defaults)).toEqual(spec(kustomizeBase));
    });

    it('scrape the same way: EndpointSlice discovery, job, node and instance = node name', () => {
      const endpoint = (objects: KubeObject[]): unknown => {
        const monitor = findObject(objects, 'ServiceMonitor', 'checkpoint-exporter') as unknown as IServiceMonitor;
        return { role: (monitor.spec as { serviceDiscoveryRole?: string }).serviceDiscoveryRole, endpoints: monitor.spec.endpoints };
      };
      expect(endpoint(everything)).toEqual(endpoint(kustomizeInstall));
    });

    it('ship the same image coordinates', async () => {
      const kustomization = yaml.load(await readFile(path.join(ROOT, 'manifests', 'base', 'kustomization.yaml'), 'utf8')) as { images: Array<{ name: string; newName: string }> };
      const values = yaml.load(await readFile(path.join(CHART, 'values.yaml'), 'utf8')) as { image: { repository: string } };
      expect(kustomization.images.map((image) => image.newName)).toEqual([values.image.repository]);
    });
  });

  describe('values', () => {
    it('image: tag defaults to the appVersion; a digest pins it', async () => {
      expect(containerOf(defaults).image).toMatch(/^ghcr\.io\/checkpoint-exporter\/checkpoint-exporter:\d+\.\d+\.\d+$/);
      const digest = `sha256:${'0123456789abcdef'.repeat(4)}`;
      const pinned = await renderChart({ image: { repository: 'registry.example.com/platform/checkpoint-exporter', tag: '0.2.0', digest, pullPolicy: 'Always' } });
      expect(containerOf(pinned).image).toBe(`registry.example.com/platform/checkpoint-exporter:0.2.0@${digest}`);
      expect(containerOf(pinned).imagePullPolicy).toBe('Always');
    });

    it('checkpointDir: the host directory, mounted at the same path and passed to the exporter', async () => {
      const dir = '/var/lib/k0s/kubelet/checkpoints';
      const objects = await renderChart({ checkpointDir: dir });
      expect(exporterOf(objects).volumes?.[0]).toEqual({ name: 'checkpoints', hostPath: { path: dir, type: 'DirectoryOrCreate' } });
      expect(containerOf(objects).volumeMounts?.[0]).toEqual({ name: 'checkpoints', mountPath: dir });
      expect(containerOf(objects).args?.slice(0, 3)).toEqual(['serve', '--checkpoint-dir', dir]);
    });

    it('podCheckpointDir: the pod-level archives\' host directory, mounted at the same path and passed to the exporter; "" leaves it out', async () => {
      const dir = '/var/lib/k0s/kubelet/pod-checkpoints';
      const objects = await renderChart({ podCheckpointDir: dir });
      expect(exporterOf(objects).volumes).toContainEqual({ name: 'pod-checkpoints', hostPath: { path: dir, type: 'DirectoryOrCreate' } });
      expect(containerOf(objects).volumeMounts).toContainEqual({ name: 'pod-checkpoints', mountPath: dir });
      const args = containerOf(objects).args ?? [];
      expect(args[args.indexOf('--pod-checkpoint-dir') + 1]).toBe(dir);
      const off = await renderChart({ podCheckpointDir: '' });
      expect(exporterOf(off).volumes?.some((volume) => volume.name === 'pod-checkpoints')).toBe(false);
      expect(containerOf(off).volumeMounts?.some((mount) => mount.name === 'pod-checkpoints')).toBe(false);
      const offArgs = containerOf(off).args ?? [];
      expect(offArgs[offArgs.indexOf('--pod-checkpoint-dir') + 1]).toBe('');
    });

    it('stateDir: a hostPath for the persisted index, mounted at the same path and passed with --state-dir; "" leaves it out', async () => {
      const on = await renderChart({});
      expect(exporterOf(on).volumes).toContainEqual({ name: 'state', hostPath: { path: '/var/lib/checkpoint-exporter', type: 'DirectoryOrCreate' } });
      expect(containerOf(on).volumeMounts).toContainEqual({ name: 'state', mountPath: '/var/lib/checkpoint-exporter' });
      const args = containerOf(on).args ?? [];
      expect(args[args.indexOf('--state-dir') + 1]).toBe('/var/lib/checkpoint-exporter');
      const off = await renderChart({ stateDir: '' });
      expect(exporterOf(off).volumes?.some((volume) => volume.name === 'state')).toBe(false);
      expect(containerOf(off).volumeMounts?.some((mount) => mount.name === 'state')).toBe(false);
      expect(containerOf(off).args).not.toContain('--state-dir');
      await expect(renderChart({ stateDir: 'relative/path' })).rejects.toThrow(/stateDir/);
    });

    it.each(['all', 'counts', 'none'])('containerMetrics %s is passed with --container-metrics', async (level) => {
      const args = containerOf(await renderChart({ containerMetrics: level })).args ?? [];
      expect(args[args.indexOf('--container-metrics') + 1]).toBe(level);
    });

    it('containerMetrics refuses a level the exporter does not know', async () => {
      await expect(renderChart({ containerMetrics: 'some' })).rejects.toThrow(/containerMetrics/);
    });

    it('policy: a ConfigMap mounted as a directory (so edits reach the pod) and passed with --config', () => {
      const configMap = findObject(everything, 'ConfigMap', 'checkpoint-exporter-policy') as unknown as IConfigMap;
      expect(configMap.data).toEqual({ 'policy.yaml': POLICY });
      const container = containerOf(everything);
      expect(container.args).toEqual(expect.arrayContaining(['--config', '/etc/checkpoint-exporter/policy.yaml']));
      expect(container.volumeMounts).toContainEqual({ name: 'policy', mountPath: '/etc/checkpoint-exporter', readOnly: true });
      expect(container.volumeMounts?.every((mount) => mount.subPath === undefined)).toBe(true);
      expect(exporterOf(everything).volumes).toContainEqual({ name: 'policy', configMap: { name: 'checkpoint-exporter-policy' } });
      const [document] = yaml.loadAll(configMap.data?.['policy.yaml'] ?? '');
      expect(parsePolicyDocument(document, 'policy.yaml')).toMatchObject({ ok: true, value: { warnings: [] } });
    });

    it('policy: an object is written as YAML', async () => {
      const policy = yaml.load(POLICY) as object;
      const objects = await renderChart({ policy });
      const text = (findObject(objects, 'ConfigMap', 'checkpoint-exporter-policy') as unknown as IConfigMap).data?.['policy.yaml'] ?? '';
      expect(yaml.load(text)).toEqual(policy);
    });

    it('no policy: no ConfigMap, no --config', () => {
      expect(containerOf(defaults).args).not.toContain('--config');
      expect(defaults.filter((object) => object.kind === 'ConfigMap')).toEqual([]);
    });

    it('dryRun: --dry-run and a read-only mount, nothing else changes', async () => {
      const objects = await renderChart({ dryRun: true });
      const container = containerOf(objects);
      expect(container.args).toEqual([...(containerOf(defaults).args ?? []), '--dry-run']);
      expect(container.volumeMounts).toEqual([
        { name: 'checkpoints', mountPath: '/var/lib/kubelet/checkpoints', readOnly: true },
        { name: 'pod-checkpoints', mountPath: '/var/lib/kubelet/pod-checkpoints', readOnly: true },
        // The persisted index is the exporter's own state, written in a dry run too.
        { name: 'state', mountPath: '/var/lib/checkpoint-exporter' },
      ]);
    });

    it('extraArgs and extraEnv are added to the container', async () => {
      const objects = await renderChart({ extraArgs: ['--log-level', 'debug'], extraEnv: [{ name: 'TZ', value: 'UTC' }] });
      expect(containerOf(objects).args?.slice(-2)).toEqual(['--log-level', 'debug']);
      expect(containerOf(objects).env).toContainEqual({ name: 'TZ', value: 'UTC' });
    });

    it('scheduling, resources, priority and update strategy are taken as given', async () => {
      const values = {
        resources: { requests: { cpu: '50m', memory: '256Mi' }, limits: { memory: '1Gi' } },
        tolerations: [{ key: 'dedicated', operator: 'Equal', value: 'checkpoints', effect: 'NoSchedule' }],
        nodeSelector: { 'node-role.example.com/checkpoints': 'true' },
        affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'kubernetes.io/arch', operator: 'In', values: ['amd64'] }] }] } } },
        priorityClassName: 'checkpoint-critical',
        updateStrategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: '25%' } },
        imagePullSecrets: [{ name: 'registry' }],
      };
      const objects = await renderChart(values);
      const spec = exporterOf(objects);
      // Helm merges maps with the defaults (a default is removed by setting it to null); lists replace them.
      expect(containerOf(objects).resources).toEqual({ requests: { cpu: '50m', memory: '256Mi' }, limits: { cpu: '1', memory: '1Gi' } });
      expect(spec).toMatchObject({ tolerations: values.tolerations, affinity: values.affinity, priorityClassName: values.priorityClassName, imagePullSecrets: values.imagePullSecrets });
      expect(spec.nodeSelector).toEqual({ 'kubernetes.io/os': 'linux', ...values.nodeSelector });
      expect(daemonSetOf(objects).spec?.updateStrategy).toEqual(values.updateStrategy);
    });

    it('serviceAccount and rbac can be left to someone else', async () => {
      const objects = await renderChart({ serviceAccount: { create: false, name: 'node-agents' }, rbac: { create: false } });
      expect(identities(objects)).toEqual(['DaemonSet/checkpoint-exporter/checkpoint-exporter', 'Service/checkpoint-exporter/checkpoint-exporter']);
      expect(exporterOf(objects).serviceAccountName).toBe('node-agents');
    });

    it('prometheusScrapeAnnotations off: no prometheus.io annotations', async () => {
      expect(daemonSetOf(await renderChart({ prometheusScrapeAnnotations: false })).spec?.template.metadata?.annotations).toBeUndefined();
    });

    it('serviceMonitor: extra labels, interval, discovery role, extra relabelings', async () => {
      const objects = await renderChart({
        serviceMonitor: { enabled: true, labels: { release: 'prom' }, interval: '60s', scrapeTimeout: '20s', serviceDiscoveryRole: '', metricRelabelings: [{ action: 'drop', sourceLabels: ['__name__'], regex: 'nodejs_.*' }] },
      });
      const monitor = findObject(objects, 'ServiceMonitor', 'checkpoint-exporter') as unknown as IServiceMonitor;
      expect(monitor.metadata?.labels?.['release']).toBe('prom');
      expect((monitor.spec as { serviceDiscoveryRole?: string }).serviceDiscoveryRole).toBeUndefined();
      expect(monitor.spec.endpoints?.[0]).toMatchObject({ interval: '60s', scrapeTimeout: '20s', metricRelabelings: [{ action: 'drop', regex: 'nodejs_.*' }] });
    });

    it('podMonitor: the same job, node and instance relabelings on pod discovery', async () => {
      const objects = await renderChart({ podMonitor: { enabled: true, labels: { release: 'prom' } } });
      const podMonitor = findObject(objects, 'PodMonitor', 'checkpoint-exporter') as unknown as IPodMonitor;
      const serviceMonitor = findObject(everything, 'ServiceMonitor', 'checkpoint-exporter') as unknown as IServiceMonitor;
      expect(podMonitor.metadata?.labels?.['release']).toBe('prom');
      expect(podMonitor.spec.selector.matchLabels).toEqual(daemonSetOf(objects).spec?.selector.matchLabels);
      expect(podMonitor.spec.podMetricsEndpoints?.[0]?.relabelings).toEqual(serviceMonitor.spec.endpoints?.[0]?.relabelings);
      expect(podMonitor.spec.podMetricsEndpoints?.[0]).toMatchObject({ port: 'metrics', path: '/metrics', interval: '30s' });
    });

    it('crd: the CRD of manifests/crd, kept on uninstall unless told otherwise', async () => {
      const rendered = findObject(everything, 'CustomResourceDefinition', 'checkpointrestoreoperators.criu.org');
      const source = await loadCrd(ROOT);
      expect(rendered['spec']).toEqual(source.spec);
      expect(rendered.metadata.annotations?.['helm.sh/resource-policy']).toBe('keep');
      const notKept = findObject(await renderChart({ crd: { install: true, keep: false } }), 'CustomResourceDefinition', 'checkpointrestoreoperators.criu.org');
      expect(notKept.metadata.annotations?.['helm.sh/resource-policy']).toBeUndefined();
      expect(notKept['spec']).toEqual(source.spec);
    });

    it('networkPolicy: ingress to the metrics port only, from the given peers; egress only when rules are given', async () => {
      const open = findObject(everything, 'NetworkPolicy', 'checkpoint-exporter') as unknown as INetworkPolicy;
      expect(open.spec?.policyTypes).toEqual(['Ingress']);
      expect(open.spec?.ingress).toEqual([{ ports: [{ port: 'metrics', protocol: 'TCP' }] }]);
      expect(open.spec?.podSelector.matchLabels).toEqual(daemonSetOf(everything).spec?.selector.matchLabels);
      const from = [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } } }];
      const egress = [{ to: [{ ipBlock: { cidr: '10.0.0.1/32' } }], ports: [{ port: 443, protocol: 'TCP' }] }];
      const closed = findObject(await renderChart({ networkPolicy: { enabled: true, ingressFrom: from, egress } }), 'NetworkPolicy', 'checkpoint-exporter') as unknown as INetworkPolicy;
      expect(closed.spec?.policyTypes).toEqual(['Ingress', 'Egress']);
      expect(closed.spec?.ingress).toEqual([{ ports: [{ port: 'metrics', protocol: 'TCP' }], from }]);
      expect(closed.spec?.egress).toEqual(egress);
    });
  });

  describe('alerts and dashboards', () => {
    it('the PrometheusRule carries exactly the alerts of alerts/', async () => {
      const rule = findObject(everything, 'PrometheusRule', 'checkpoint-exporter') as unknown as IPrometheusRule;
      const rulesFile = yaml.load(await readFile(path.join(ROOT, 'alerts', 'checkpoint-exporter.rules.yaml'), 'utf8')) as { groups: unknown };
      expect(rule.spec.groups).toEqual(rulesFile.groups);
      expect(rule.metadata?.labels?.['release']).toBe('kube-prometheus-stack');
    });

    it('thresholds, job and runbook base URL come from the values, exactly as alerts/rules.ts builds them', async () => {
      const thresholds = { fillingUpWarningPercent: 35, fillingUpCriticalPercent: 15, almostFullWarningPercent: 30, almostFullCriticalPercent: 22.5, minArchiveSharePercent: 5 };
      const runbookBaseUrl = 'https://wiki.example.com/runbooks/checkpoint-exporter';
      const objects = await renderChart({ job: 'checkpoints', prometheusRule: { enabled: true, runbookBaseUrl, thresholds } });
      const rule = findObject(objects, 'PrometheusRule', 'checkpoint-exporter') as unknown as IPrometheusRule;
      expect(rule.spec.groups).toEqual(buildAlertRuleGroups({ job: 'checkpoints', runbookBaseUrl, thresholds }));
    });

    it('the default values are the defaults of alerts/rules.ts', async () => {
      const values = yaml.load(await readFile(path.join(CHART, 'values.yaml'), 'utf8')) as { job: string; prometheusRule: { runbookBaseUrl: string; thresholds: unknown } };
      expect(values.job).toBe(SCRAPE_JOB);
      expect(values.prometheusRule.runbookBaseUrl).toBe(DEFAULT_RUNBOOK_BASE_URL);
      expect(values.prometheusRule.thresholds).toEqual(DEFAULT_ALERT_THRESHOLDS);
    });

    (findBinary('promtool', 'prometheus') === undefined ? it.skip : it)('promtool accepts the rendered rules with custom values', async () => {
      const objects = await renderChart({ job: 'checkpoints', prometheusRule: { enabled: true, thresholds: { almostFullWarningPercent: 30, almostFullCriticalPercent: 22.5 } } });
      const rule = findObject(objects, 'PrometheusRule', 'checkpoint-exporter') as unknown as IPrometheusRule;
      const dir = await mkdtemp(path.join(os.tmpdir(), 'chart-rules-'));
      try {
        const file = path.join(dir, 'rules.yaml');
        await writeFile(file, renderRulesYaml(rule.spec.groups as never));
        const { stdout } = await run('promtool', ['check', 'rules', file]);
        expect(stdout).toContain('SUCCESS');
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });

    it('the dashboards ConfigMap holds every dashboard of dashboards/ byte for byte, labelled for the Grafana sidecar', async () => {
      const configMap = findObject(everything, 'ConfigMap', 'checkpoint-exporter-dashboards') as unknown as IConfigMap;
      expect(configMap.metadata?.labels?.[GRAFANA_DASHBOARD_LABEL]).toBe('1');
      const files = (await readdir(path.join(ROOT, 'dashboards'))).filter((name) => name.endsWith('.json')).sort();
      expect(Object.keys(configMap.data ?? {}).sort()).toEqual(files);
      for (const file of files) expect(configMap.data?.[file]).toBe(await readFile(path.join(ROOT, 'dashboards', file), 'utf8'));
    });

    it('the dashboards select the configured job, in the configured namespace and with the configured annotations', async () => {
      const objects = await renderChart({ job: 'checkpoints', dashboards: { enabled: true, namespace: 'grafana', annotations: { grafana_folder: 'Checkpoints' } } });
      const configMap = findObject(objects, 'ConfigMap', 'checkpoint-exporter-dashboards') as unknown as IConfigMap;
      expect(configMap.metadata?.namespace).toBe('grafana');
      expect(configMap.metadata?.annotations).toEqual({ grafana_folder: 'Checkpoints' });
      for (const json of Object.values(configMap.data ?? {})) {
        expect(json).not.toContain('job=\\"checkpoint-exporter\\"');
        JSON.parse(json);
      }
      expect(Object.values(configMap.data ?? {}).join('')).toContain('job=\\"checkpoints\\"');
    });
  });

  describe('README', () => {
    it('lists every value of values.yaml: each one, or the object it belongs to when that is passed through as a whole', async () => {
      const values = yaml.load(await readFile(path.join(CHART, 'values.yaml'), 'utf8'));
      const readme = await readFile(path.join(CHART, 'README.md'), 'utf8');
      const listed = [...readme.matchAll(/^\| `([\w.-]+)` \|/gm)].map((match) => match[1] ?? '');
      expect(listed.length).toBeGreaterThan(40);
      const leaves = leafPaths(values);
      const covered = (leaf: string): boolean => listed.some((key) => leaf === key || leaf.startsWith(`${key}.`));
      expect(leaves.filter((leaf) => !covered(leaf))).toEqual([]);
      // Nothing listed that values.yaml does not have, and no section listed whole instead of value by value.
      expect(listed.filter((key) => !leaves.some((leaf) => leaf === key || leaf.startsWith(`${key}.`)))).toEqual([]);
      const sections = ['image', 'serviceAccount', 'rbac', 'crd', 'service', 'serviceMonitor', 'podMonitor', 'prometheusRule', 'prometheusRule.thresholds', 'dashboards', 'networkPolicy'];
      expect(listed.filter((key) => sections.includes(key))).toEqual([]);
      expect(new Set(listed).size).toBe(listed.length);
    });

    it('lives where the generator writes the chart', () => {
      expect(path.join(ROOT, CHART_DIR)).toBe(CHART);
    });
  });
});
