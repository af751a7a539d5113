import { describe, expect, it } from '@jest/globals';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { compileCrdSchema, loadCrd } from './support/crd-schema.js';
import { identify, type KubeObject } from './support/kube-object.js';
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

async function yamlFilesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries
    .filter((entry) => entry.isFile() && /\.ya?ml$/.test(entry.name) && entry.name !== 'kustomization.yaml')
    .map((entry) => path.join(entry.parentPath, entry.name))
    .sort();
}

describe('kustomizations', () => {
  it('`kubectl apply -k manifests` installs exactly the exporter, its RBAC, the CRD and the monitoring objects', async () => {
    expect((await loadTarget('install')).map(identify).sort()).toEqual(
      [
        'Namespace/checkpoint-exporter',
        'CustomResourceDefinition/checkpointrestoreoperators.criu.org',
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

  it('base needs no Prometheus Operator, and the sample policy is not part of any install', async () => {
    const groups = (objects: KubeObject[]): string[] => [...new Set(objects.map((object) => object.apiVersion))].sort();
    expect(groups(await loadTarget('base'))).toEqual(['apiextensions.k8s.io/v1', 'apps/v1', 'rbac.authorization.k8s.io/v1', 'v1']);
    for (const target of ['install', 'base', 'dryRun'] as const) {
      expect((await loadTarget(target)).filter((object) => object.apiVersion === 'criu.org/v1')).toEqual([]);
    }
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
