import { beforeAll, describe, expect, it } from '@jest/globals';
import type { IClusterRole } from 'kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRole';
import type { IClusterRoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRoleBinding';
import { findObject, type KubeObject } from './support/kube-object.js';
import { loadTarget } from './support/targets.js';

let objects: KubeObject[];

beforeAll(async () => {
  objects = await loadTarget('install');
});

/** One line per (group, resource, verb), so a broadened rule shows up as an extra line. */
function grants(role: IClusterRole): string[] {
  const lines: string[] = [];
  for (const rule of role.rules ?? []) {
    expect(rule.resourceNames).toBeUndefined();
    expect(rule.nonResourceURLs).toBeUndefined();
    for (const group of rule.apiGroups ?? []) for (const resource of rule.resources ?? []) for (const verb of rule.verbs) lines.push(`${group || 'core'} ${resource} ${verb}`);
  }
  return lines.sort();
}

describe('RBAC', () => {
  it('grants exactly pod and policy reads and event writes, nothing more', () => {
    const role = findObject(objects, 'ClusterRole', 'checkpoint-exporter') as unknown as IClusterRole;
    expect(role.aggregationRule).toBeUndefined();
    expect(grants(role)).toEqual(
      [
        'core pods get',
        'core pods list',
        'core pods watch',
        'criu.org checkpointrestoreoperators get',
        'criu.org checkpointrestoreoperators list',
        'criu.org checkpointrestoreoperators watch',
        'core events create',
        'core events patch',
      ].sort(),
    );
  });

  it('is the only role in the install, bound to the exporter service account only', () => {
    expect(objects.filter((object) => /Role(Binding)?$/.test(object.kind)).map((object) => object.kind).sort()).toEqual(['ClusterRole', 'ClusterRoleBinding']);
    const binding = findObject(objects, 'ClusterRoleBinding', 'checkpoint-exporter') as unknown as IClusterRoleBinding;
    expect(binding.roleRef).toEqual({ apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'checkpoint-exporter' });
    expect(binding.subjects).toEqual([{ kind: 'ServiceAccount', name: 'checkpoint-exporter', namespace: 'checkpoint-exporter' }]);
    expect(findObject(objects, 'ServiceAccount', 'checkpoint-exporter').metadata.namespace).toBe('checkpoint-exporter');
  });
});
