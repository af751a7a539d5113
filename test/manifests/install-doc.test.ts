import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { access, cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import yaml from 'js-yaml';
import type { IDaemonSet } from 'kubernetes-models/apps/v1/DaemonSet';
import type { IConfigMap } from 'kubernetes-models/v1/ConfigMap';
import type { IServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor';
import { parsePolicyDocument } from '../../src/retention/policy-document.js';
import { findBinary } from '../support/binaries.js';
import { CHART, helmUnavailableReason, renderChart } from '../charts/support/helm.js';
import { fencedBlocks, flagValue, parseBlock, type Command } from '../runbooks/support/shell.js';
import { compileCrdSchema, loadCrd } from './support/crd-schema.js';
import { findObject, identify, isKubeObject, type KubeObject } from './support/kube-object.js';
import { findKubectl, renderWithKubectl } from './support/kubectl.js';
import { hasModel, validateWithModel } from './support/models.js';
import { loadTarget, MANIFESTS, ROOT } from './support/targets.js';

/** The install guide's examples are run, so a manifest or chart change cannot leave them behind. */

const run = promisify(execFile);
const GUIDE = path.join(ROOT, 'docs', 'install.md');
const CRD_ID = 'CustomResourceDefinition/checkpointrestoreoperators.criu.org';

let guide: string;
let yamlDocuments: unknown[];
let commands: Command[];
let chartValues: unknown;

function blocksOfKind(kind: string): unknown[] {
  return yamlDocuments.filter((document) => (document as { kind?: unknown } | null)?.kind === kind);
}

/** Values files for the chart: the YAML blocks that are not Kubernetes objects, Kustomizations or Prometheus config. */
function valuesBlocks(): Array<Record<string, unknown>> {
  return yamlDocuments.filter(
    (document): document is Record<string, unknown> =>
      typeof document === 'object' && document !== null && !('kind' in document) && !('scrape_configs' in document),
  );
}

function leafPaths(value: unknown, prefix = ''): string[] {
  if (typeof value !== 'object' || value === null || Array.isArray(value) || Object.keys(value).length === 0) return [prefix];
  return Object.entries(value).flatMap(([key, child]) => leafPaths(child, prefix === '' ? key : `${prefix}.${key}`));
}

/** Maps of values.yaml whose keys are the user's own: labels, annotations, selectors, resources. */
const OPEN_MAPS = new Set([
  'serviceMonitor.labels',
  'podMonitor.labels',
  'prometheusRule.labels',
  'dashboards.labels',
  'dashboards.annotations',
  'service.annotations',
  'serviceAccount.annotations',
  'podAnnotations',
  'podLabels',
  'nodeSelector',
  'resources',
  'resources.requests',
  'resources.limits',
  'affinity',
  // The web configuration file itself, in the exporter-toolkit format the exporter validates.
  'webConfig.config',
  // The operator's SafeTLSConfig CA reference (secret or configMap), whose shape values.schema.json checks.
  'scrapeTls.ca',
]);

/** A key a values file or --set may set: a value of values.yaml, or a key inside one of its open maps. */
function isChartValue(key: string): boolean {
  const segments = key.split('.');
  let node: unknown = chartValues;
  for (const [index, segment] of segments.entries()) {
    if (typeof node !== 'object' || node === null || Array.isArray(node)) return false;
    if (!(segment in node)) return OPEN_MAPS.has(segments.slice(0, index).join('.'));
    node = (node as Record<string, unknown>)[segment];
  }
  return true;
}

beforeAll(async () => {
  guide = await readFile(GUIDE, 'utf8');
  yamlDocuments = fencedBlocks(guide, 'yaml').map((block) => yaml.load(block));
  commands = fencedBlocks(guide, 'sh').flatMap(parseBlock);
  chartValues = yaml.load(await readFile(path.join(CHART, 'values.yaml'), 'utf8'));
});

describe('install guide', () => {
  it('lists exactly the objects `kubectl apply -k manifests` installs', async () => {
    const table = [...guide.matchAll(/^\| (\w+)(?: \(headless\))? \| `([^`]+)` \|\s*(?:`([^`]+)`)?\s*\|$/gm)].map(([, kind, name, namespace]) =>
      namespace === undefined ? `${kind}/${name}` : `${kind}/${namespace}/${name}`,
    );
    expect(table.sort()).toEqual((await loadTarget('install')).map(identify).sort());
  });

  it('names only kustomization paths that exist', async () => {
    const paths = new Set([...guide.matchAll(/`(manifests(?:\/[\w-]+)*)\/?`/g)].map((match) => match[1] ?? ''));
    expect(paths.size).toBeGreaterThan(6);
    for (const relative of paths) await access(path.join(ROOT, relative, 'kustomization.yaml'));
  });

  it('shows policies the CRD and the exporter both accept, as objects and in the chart values', async () => {
    const inValues = valuesBlocks()
      .map((values) => values['policy'])
      .filter((policy): policy is string => typeof policy === 'string')
      .flatMap((text) => yaml.loadAll(text));
    const policies = [...blocksOfKind('CheckpointRestoreOperator'), ...inValues];
    expect(policies.length).toBeGreaterThan(1);
    const validate = compileCrdSchema(await loadCrd(ROOT));
    for (const policy of policies) {
      expect(validate(policy) ? [] : validate.errors).toEqual([]);
      expect(parsePolicyDocument(policy, 'docs/install.md')).toMatchObject({ ok: true, value: { warnings: [] } });
    }
  });

  it('runs only commands whose paths, charts and values exist', async () => {
    expect(commands.length).toBeGreaterThan(8);
    const shownFiles = new Set([...guide.matchAll(/^# ([\w./-]+\.yaml)$/gm)].map((match) => match[1]));
    for (const command of commands) {
      const [program, verb] = command.words;
      const where = { command: command.text };
      if (program === 'helm') {
        if (verb === 'install' || verb === 'upgrade') expect(command.words[3]).toBe('charts/checkpoint-exporter');
        for (const [index, word] of command.words.entries()) {
          if (word === '--set') {
            for (const assignment of (command.words[index + 1] ?? '').split(',')) {
              const key = assignment.split('=')[0] ?? '';
              expect({ ...where, key, known: isChartValue(key) }).toEqual({ ...where, key, known: true });
            }
          }
          if (word === '--values') expect({ ...where, shown: shownFiles.has(command.words[index + 1]) }).toEqual({ ...where, shown: true });
        }
        expect(flagValue(command.words, '--namespace', '-n')).toBe('checkpoint-exporter');
      } else if (program === 'kubectl') {
        const kustomization = flagValue(command.words, '-k');
        if (kustomization !== undefined && kustomization !== 'my-cluster') await access(path.join(ROOT, kustomization, 'kustomization.yaml'));
      } else if (program === 'docker') {
        expect(command.words.slice(0, 2)).toEqual(['docker', 'buildx']);
        expect(flagValue(command.words, '--platform')).toBe('linux/amd64,linux/arm64');
        const dockerfile = await readFile(path.join(ROOT, 'Dockerfile'), 'utf8');
        for (const [index, word] of command.words.entries()) {
          if (word === '--build-arg') expect(dockerfile).toMatch(new RegExp(`^ARG ${(command.words[index + 1] ?? '').split('=')[0]}=`, 'm'));
        }
      } else {
        expect({ ...where, program }).toEqual({ ...where, program: expect.stringMatching(/^(helm|kubectl|docker)$/) });
      }
    }
  });

  (findBinary('promtool', 'prometheus') === undefined ? it.skip : it)('shows a scrape config promtool accepts', async () => {
    const configs = yamlDocuments.filter((document) => typeof document === 'object' && document !== null && 'scrape_configs' in document) as Array<{
      scrape_configs: Array<Record<string, unknown>>;
    }>;
    expect(configs.length).toBe(1);
    // Debian's Prometheus is built without Kubernetes discovery; the job is checked, relabelings included,
    // with a static target in its place.
    const checkable = {
      scrape_configs: configs[0]?.scrape_configs.map(({ kubernetes_sd_configs: discovery, ...job }) => {
        expect(discovery).toEqual([{ role: 'pod', namespaces: { names: ['checkpoint-exporter'] } }]);
        return { ...job, static_configs: [{ targets: ['127.0.0.1:9873'] }] };
      }),
    };
    const dir = await mkdtemp(path.join(os.tmpdir(), 'install-doc-prometheus-'));
    try {
      const file = path.join(dir, 'prometheus.yml');
      await writeFile(file, yaml.dump(checkable));
      const { stdout } = await run('promtool', ['check', 'config', file]);
      expect(stdout).toContain('SUCCESS');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

/** Helm's merge of several --values files: maps merge key by key, anything else is replaced. */
function mergeValues(base: unknown, over: unknown): unknown {
  const isMap = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);
  if (!isMap(base) || !isMap(over)) return over;
  const merged: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(over)) merged[key] = mergeValues(base[key], value);
  return merged;
}

(helmUnavailableReason() === undefined ? describe : describe.skip)('install guide values files', () => {
  it('secured mode, layered over the first file as the guide upgrades: TLS from the Certificate\'s Secret, Kubernetes auth, a ServiceMonitor that checks the certificate and sends the token', async () => {
    const [first, secured] = valuesBlocks();
    expect(secured).toHaveProperty('auth');
    for (const key of leafPaths(secured)) expect({ key, known: isChartValue(key) }).toEqual({ key, known: true });
    const objects = await renderChart(mergeValues(first, secured) as Record<string, unknown>);
    for (const object of objects) validateWithModel(object);
    const [certificate] = blocksOfKind('Certificate') as Array<{ metadata: { namespace: string }; spec: { secretName: string; dnsNames: string[] } }>;
    expect(certificate?.metadata.namespace).toBe('checkpoint-exporter');
    const container = (findObject(objects, 'DaemonSet', 'checkpoint-exporter') as unknown as IDaemonSet).spec?.template.spec?.containers[0];
    expect(container?.args).toEqual(expect.arrayContaining(['--auth', 'kubernetes', '--web-config-file']));
    expect(container?.readinessProbe?.httpGet?.scheme).toBe('HTTPS');
    const volumes = (findObject(objects, 'DaemonSet', 'checkpoint-exporter') as unknown as IDaemonSet).spec?.template.spec?.volumes ?? [];
    expect(volumes.map((volume) => volume.secret?.secretName)).toContain(certificate?.spec.secretName);
    const endpoint = (findObject(objects, 'ServiceMonitor', 'checkpoint-exporter') as unknown as IServiceMonitor).spec.endpoints?.[0];
    expect(endpoint).toMatchObject({
      scheme: 'https',
      tlsConfig: { serverName: certificate?.spec.dnsNames[0], ca: { secret: { name: certificate?.spec.secretName, key: 'ca.crt' } } },
      bearerTokenFile: '/var/run/secrets/kubernetes.io/serviceaccount/token',
    });
    const binding = findObject(objects, 'ClusterRoleBinding', 'checkpoint-exporter-metrics-reader') as unknown as { subjects: Array<{ namespace: string; name: string }> };
    const canI = commands.find((command) => command.words.slice(0, 5).join(' ') === 'kubectl auth can-i get /metrics');
    expect(canI?.words.slice(3)).toEqual(['get', '/metrics', `--as=system:serviceaccount:${binding.subjects[0]?.namespace}:${binding.subjects[0]?.name}`]);
  });

  it('set only values the chart has, and render to valid objects with the effect the guide describes', async () => {
    const files = valuesBlocks();
    expect(files.length).toBe(2);
    for (const values of files.slice(0, 1)) {
      for (const key of leafPaths(values)) expect({ key, known: isChartValue(key) }).toEqual({ key, known: true });
      const objects = await renderChart(values);
      for (const object of objects) validateWithModel(object);
      const container = (findObject(objects, 'DaemonSet', 'checkpoint-exporter') as unknown as IDaemonSet).spec?.template.spec?.containers[0];
      expect(container?.image).toMatch(/^registry\.example\.com\/platform\/checkpoint-exporter:/);
      expect(container?.args).toEqual(expect.arrayContaining(['--dry-run', '--config', '/etc/checkpoint-exporter/policy.yaml']));
      expect((findObject(objects, 'ConfigMap', 'checkpoint-exporter-policy') as unknown as IConfigMap).data?.['policy.yaml']).toBe(values['policy']);
      for (const kind of ['ServiceMonitor', 'PrometheusRule']) expect(findObject(objects, kind, 'checkpoint-exporter').metadata.labels?.['release']).toBe('kube-prometheus-stack');
      findObject(objects, 'ConfigMap', 'checkpoint-exporter-dashboards');
      expect((findObject(objects, 'DaemonSet', 'checkpoint-exporter') as unknown as IDaemonSet).spec?.template.metadata?.annotations).toBeUndefined();
    }
  });
});

const kubectl = findKubectl();

describe('install guide overlays', () => {
  let workspace: string;

  beforeAll(async () => {
    workspace = await mkdtemp(path.join(os.tmpdir(), 'install-doc-overlays-'));
    await cp(MANIFESTS, path.join(workspace, 'manifests'), { recursive: true });
  });

  afterAll(async () => {
    await rm(workspace, { recursive: true, force: true });
  });

  /** Renders an overlay the way the guide lays it out: `my-cluster/` next to the clone's `manifests/`. */
  async function renderOverlay(kustomization: unknown, index: number): Promise<KubeObject[]> {
    const dir = path.join(workspace, `my-cluster-${index}`);
    await mkdir(dir);
    await writeFile(path.join(dir, 'kustomization.yaml'), yaml.dump(kustomization));
    return renderWithKubectl(kubectl as string, dir);
  }

  (kubectl === undefined ? it.skip : it)('render to valid objects with the effect the guide describes', async () => {
    const overlays = blocksOfKind('Kustomization');
    expect(overlays.length).toBe(3);
    const plain = await loadTarget('install');
    for (const [index, overlay] of overlays.entries()) {
      const rendered = await renderOverlay(overlay, index);
      for (const object of rendered) {
        expect(isKubeObject(object) && hasModel(object)).toBe(true);
        validateWithModel(object);
      }
      const text = JSON.stringify(overlay);
      const withCrd = text.includes('components/crd');
      expect(rendered.map(identify).sort()).toEqual([...plain.map(identify), ...(withCrd ? [CRD_ID] : [])].sort());
      expect(rendered).not.toEqual(plain);
      const daemonSet = findObject(rendered, 'DaemonSet', 'checkpoint-exporter') as unknown as IDaemonSet;
      const container = daemonSet.spec?.template.spec?.containers[0];
      if (text.includes('"images"')) expect(container?.image).toBe('registry.example.com/platform/checkpoint-exporter:0.1.0');
      if (text.includes('components/dry-run')) {
        expect(container?.args).toContain('--dry-run');
        expect(container?.volumeMounts?.[0]?.readOnly).toBe(true);
      }
      if (text.includes('/metadata/labels/release')) {
        for (const kind of ['ServiceMonitor', 'PrometheusRule']) {
          expect(findObject(rendered, kind, 'checkpoint-exporter').metadata.labels?.['release']).toBe('kube-prometheus-stack');
        }
      }
      if (text.includes('metricRelabelings')) {
        const monitor = findObject(rendered, 'ServiceMonitor', 'checkpoint-exporter') as unknown as IServiceMonitor;
        expect(monitor.spec.endpoints?.[0]?.metricRelabelings?.[0]).toMatchObject({ action: 'drop', sourceLabels: ['__name__'] });
      }
    }
  });
});
