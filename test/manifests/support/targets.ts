import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { walkKustomization } from './kustomize-walker.js';
import type { KubeObject } from './kube-object.js';

export const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
export const MANIFESTS = path.join(ROOT, 'manifests');

/** Every kustomization a user may apply, by its path under manifests/. */
export const TARGETS = {
  install: '.',
  base: 'base',
  monitoring: 'monitoring',
  dryRun: 'overlays/dry-run',
  kubernetesAuth: 'overlays/kubernetes-auth',
  crd: 'crd',
  samples: 'samples',
} as const;

export type TargetName = keyof typeof TARGETS;

export function targetDir(target: TargetName): string {
  return path.join(MANIFESTS, TARGETS[target]);
}

export async function loadTarget(target: TargetName): Promise<KubeObject[]> {
  const { objects } = await walkKustomization(targetDir(target));
  return objects.map(({ object }) => object);
}
