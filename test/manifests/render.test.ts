import { afterAll, describe, expect, it } from '@jest/globals';
import { cp, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import yaml from 'js-yaml';
import type { IDaemonSet } from 'kubernetes-models/apps/v1/DaemonSet';
import { compileCrdSchema, loadCrd } from './support/crd-schema.js';
import { findObject, identify, type KubeObject } from './support/kube-object.js';
import { findKubectl, renderWithKubectl } from './support/kubectl.js';
import { CLUSTER_SCOPED_KINDS, walkKustomization } from './support/kustomize-walker.js';
import { hasModel, validateWithModel } from './support/models.js';
import { loadTarget, MANIFESTS, ROOT, TARGETS, targetDir, type TargetName } from './support/targets.js';

const NAMESPACE = 'checkpoint-exporter';
const kubectl = findKubectl();
const withKubectl = kubectl === undefined ? it.skip : it;

const TARGET_NAMES = Object.keys(TARGETS) as TargetName[];

async function validateObject(object: KubeObject): Promise<void> {
  if (hasModel(object)) {
    validateWithModel(object);
    return;
  }
  if (object.apiVersion === 'criu.org/v1' && object.kind === 'CheckpointRestoreOperator') {
    const validate = compileCrdSchema(await loadCrd(ROOT));
    if (!validate(object)) throw new Error(`${identify(object)}: ${JSON.stringify(validate.errors)}`);
    return;
  }
  throw new Error(`${identify(object)}: no model or schema to validate ${object.apiVersion} ${object.kind} against`);
}

const workspaces: string[] = [];

afterAll(async () => {
  for (const workspace of workspaces) await rm(workspace, { recursive: true, force: true });
});

/** An overlay in `my-cluster/` beside a copy of manifests/, rendered by the walker and (when present) kubectl. */
async function renderOverlay(kustomization: Record<string, unknown>): Promise<{ walked: KubeObject[]; rendered: KubeObject[] | undefined }> {
  const workspace = await mkdtemp(path.join(os.tmpdir(), 'kustomize-overlay-'));
  workspaces.push(workspace);
  await cp(MANIFESTS, path.join(workspace, 'manifests'), { recursive: true });
  const dir = path.join(workspace, 'my-cluster');
  await mkdir(dir);
  await writeFile(path.join(dir, 'kustomization.yaml'), yaml.dump({ apiVersion: 'kustomize.config.k8s.io/v1beta1', kind: 'Kustomization', ...kustomization }));
  const walked = (await walkKustomization(dir)).objects.map(({ object }) => object);
  for (const object of walked) await validateObject(object);
  const rendered = kubectl === undefined ? undefined : await renderWithKubectl(kubectl, dir);
  return { walked, rendered };
}

function sortById(objects: readonly KubeObject[]): KubeObject[] {
  return [...objects].sort((a, b) => identify(a).localeCompare(identify(b)));
}

async function yamlFilesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries
    .filter((entry) => entry.isFile() && /\.ya?ml$/.test(entry.name) && entry.name !== 'kustomization.yaml')
    .map((entry) => path.join(entry.parentPath, entry.name))
    .sort();
}

describe('kustomizations', () => {
  it('`kubectl apply -k manifests` installs exactly the exporter, its RBAC and the monitoring objects', async () => {
    expect((await loadTarget('install')).map(identify).sort()).toEqual(
      [
        'Namespace/checkpoint-exporter',
        'ServiceAccount/checkpoint-exporter/checkpoint-exporter',
        'ClusterRole/checkpoint-exporter',
        'ClusterRoleBinding/checkpoint-exporter',
        'DaemonSet/checkpoint-exporter/checkpoint-exporter',
        'Service/checkpoint-exporter/checkpoint-exporter',
        'ServiceMonitor/checkpoint-exporter/checkpoint-exporter',
        'PrometheusRule/checkpoint-exporter/checkpoint-exporter',
        'ConfigMap/checkpoint-exporter/checkpoint-exporter-dashboards',
      ].sort(),
    );
  });

  it('base needs no Prometheus Operator and no CRD, and the sample policy is not part of any install', async () => {
    const groups = (objects: KubeObject[]): string[] => [...new Set(objects.map((object) => object.apiVersion))].sort();
    expect(groups(await loadTarget('base'))).toEqual(['apps/v1', 'rbac.authorization.k8s.io/v1', 'v1']);
    for (const target of ['install', 'base', 'dryRun'] as const) {
      expect((await loadTarget(target)).filter((object) => object.apiVersion === 'criu.org/v1')).toEqual([]);
      expect((await loadTarget(target)).filter((object) => object.kind === 'CustomResourceDefinition')).toEqual([]);
    }
  });

  it('the dry-run overlay is the base alone: no Prometheus Operator objects', async () => {
    expect((await loadTarget('dryRun')).map(identify).sort()).toEqual((await loadTarget('base')).map(identify).sort());
  });

  it.each(TARGET_NAMES)('every object of %s validates against its Kubernetes model or CRD schema', async (target) => {
    const objects = await loadTarget(target);
    expect(objects.length).toBeGreaterThan(0);
    for (const object of objects) await validateObject(object);
  });

  it.each(TARGET_NAMES)('every namespaced object of %s lands in the checkpoint-exporter namespace, cluster-scoped ones in none', async (target) => {
    for (const object of await loadTarget(target)) {
      expect({ id: identify(object), namespace: object.metadata.namespace }).toEqual({
        id: identify(object),
        namespace: CLUSTER_SCOPED_KINDS.has(object.kind) ? undefined : NAMESPACE,
      });
    }
  });

  it.each(TARGET_NAMES)('%s has no two objects with the same kind and name', async (target) => {
    const ids = (await loadTarget(target)).map(identify);
    expect(ids.filter((id, index) => ids.indexOf(id) !== index)).toEqual([]);
  });

  it('every manifest file is referenced by a kustomization, so none is silently left out', async () => {
    const referenced = new Set<string>();
    for (const target of TARGET_NAMES) for (const file of (await walkKustomization(targetDir(target))).referenced) referenced.add(file);
    const unreferenced = (await yamlFilesUnder(MANIFESTS)).filter((file) => !referenced.has(file));
    expect(unreferenced).toEqual([]);
  });

  withKubectl.each(TARGET_NAMES)('`kubectl kustomize` renders %s to the same objects, all valid', async (target) => {
    const rendered = await renderWithKubectl(kubectl as string, targetDir(target));
    for (const object of rendered) await validateObject(object);
    const walked = await loadTarget(target);
    expect(rendered.map(identify).sort()).toEqual(walked.map(identify).sort());
    for (const object of walked) {
      expect(rendered.find((candidate) => identify(candidate) === identify(object))).toEqual(object);
    }
  });
});

describe('components', () => {
  it('crd adds exactly the CheckpointRestoreOperator CRD to an overlay', async () => {
    const { walked, rendered } = await renderOverlay({ resources: ['../manifests'], components: ['../manifests/components/crd'] });
    const plain = (await loadTarget('install')).map(identify);
    expect(walked.map(identify).sort()).toEqual([...plain, 'CustomResourceDefinition/checkpointrestoreoperators.criu.org'].sort());
    expect(findObject(walked, 'CustomResourceDefinition', 'checkpointrestoreoperators.criu.org')).toEqual((await loadTarget('crd'))[0]);
    if (rendered !== undefined) expect(sortById(rendered)).toEqual(sortById(walked));
  });

  it('dry-run switches deletions off and mounts the directory read-only, also beside the monitoring objects', async () => {
    const { walked, rendered } = await renderOverlay({ resources: ['../manifests'], components: ['../manifests/components/dry-run'] });
    expect(walked.map(identify).sort()).toEqual((await loadTarget('install')).map(identify).sort());
    const container = (findObject(walked, 'DaemonSet', 'checkpoint-exporter') as unknown as IDaemonSet).spec?.template.spec?.containers[0];
    expect(container?.args?.at(-1)).toBe('--dry-run');
    expect(container?.volumeMounts?.[0]).toEqual({ name: 'checkpoints', mountPath: '/var/lib/kubelet/checkpoints', readOnly: true });
    if (rendered !== undefined) expect(sortById(rendered)).toEqual(sortById(walked));
  });

  it('kubernetes-auth adds the flag, the review rules and the reader roles, also to the base alone', async () => {
    const { walked, rendered } = await renderOverlay({ resources: ['../manifests/base'], components: ['../manifests/components/kubernetes-auth'] });
    expect(walked.map(identify).sort()).toEqual(
      [
        ...(await loadTarget('base')).map(identify),
        'ClusterRole/checkpoint-exporter-metrics-reader',
        'ClusterRole/checkpoint-exporter-api-reader',
        'ClusterRoleBinding/checkpoint-exporter-metrics-reader',
      ].sort(),
    );
    const container = (findObject(walked, 'DaemonSet', 'checkpoint-exporter') as unknown as IDaemonSet).spec?.template.spec?.containers[0];
    expect(container?.args?.slice(-2)).toEqual(['--auth', 'kubernetes']);
    if (rendered !== undefined) expect(sortById(rendered)).toEqual(sortById(walked));
  });

  it('image coordinates change with an overlay images: entry, by tag or by digest', async () => {
    const digest = `sha256:${'0123456789abcdef'.repeat(4)}`;
    for (const [entry, expected] of [
      [{ newName: 'registry.example.com/platform/checkpoint-exporter', newTag: '0.2.0' }, 'registry.example.com/platform/checkpoint-exporter:0.2.0'],
      [{ digest }, `ghcr.io/checkpoint-exporter/checkpoint-exporter@${digest}`],
    ] as const) {
      const { walked, rendered } = await renderOverlay({ resources: ['../manifests/base'], images: [{ name: 'ghcr.io/checkpoint-exporter/checkpoint-exporter', ...entry }] });
      for (const objects of [walked, rendered ?? walked]) {
        expect((findObject(objects, 'DaemonSet', 'checkpoint-exporter') as unknown as IDaemonSet).spec?.template.spec?.containers[0]?.image).toBe(expected);
      }
    }
  });
});
