import { beforeAll, describe, expect, it } from '@jest/globals';
import type { IClusterRole } from 'kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRole';
import type { IClusterRoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRoleBinding';
import type { IDaemonSet } from 'kubernetes-models/apps/v1/DaemonSet';
import type { IServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor';
import { findObject, identify, type KubeObject } from './support/kube-object.js';
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
  it('grants exactly pod, policy and PodCheckpoint reads and event writes, nothing more', () => {
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
        'checkpoint.k8s.io podcheckpoints get',
        'checkpoint.k8s.io podcheckpoints list',
        'checkpoint.k8s.io podcheckpoints watch',
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

describe('RBAC of the kubernetes-auth overlay (serve --auth kubernetes)', () => {
  let secured: KubeObject[];
  beforeAll(async () => {
    secured = await loadTarget('kubernetesAuth');
  });

  it('adds to the exporter role only create on tokenreviews and subjectaccessreviews', () => {
    const plain = grants(findObject(objects, 'ClusterRole', 'checkpoint-exporter') as unknown as IClusterRole);
    const role = findObject(secured, 'ClusterRole', 'checkpoint-exporter') as unknown as IClusterRole;
    expect(grants(role)).toEqual([...plain, 'authentication.k8s.io tokenreviews create', 'authorization.k8s.io subjectaccessreviews create'].sort());
  });

  it('grants get on /metrics and on /api/v1/* in two roles, and binds only the metrics reader, to Prometheus', () => {
    const nonResource = (name: string): unknown => (findObject(secured, 'ClusterRole', name) as unknown as IClusterRole).rules;
    expect(nonResource('checkpoint-exporter-metrics-reader')).toEqual([{ nonResourceURLs: ['/metrics'], verbs: ['get'] }]);
    expect(nonResource('checkpoint-exporter-api-reader')).toEqual([{ nonResourceURLs: ['/', '/api/v1/*'], verbs: ['get'] }]);
    const binding = findObject(secured, 'ClusterRoleBinding', 'checkpoint-exporter-metrics-reader') as unknown as IClusterRoleBinding;
    expect(binding.roleRef).toEqual({ apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'checkpoint-exporter-metrics-reader' });
    expect(binding.subjects).toEqual([{ kind: 'ServiceAccount', name: 'prometheus-k8s', namespace: 'monitoring' }]);
    const bindings = secured.filter((object) => object.kind === 'ClusterRoleBinding').map(identify).sort();
    expect(bindings).toEqual(['ClusterRoleBinding/checkpoint-exporter', 'ClusterRoleBinding/checkpoint-exporter-metrics-reader']);
  });

  it('runs the exporter with --auth kubernetes and scrapes with the token of Prometheus\'s service account', () => {
    const container = (findObject(secured, 'DaemonSet', 'checkpoint-exporter') as unknown as IDaemonSet).spec?.template.spec?.containers[0];
    expect(container?.args?.slice(-2)).toEqual(['--auth', 'kubernetes']);
    const monitor = findObject(secured, 'ServiceMonitor', 'checkpoint-exporter') as unknown as IServiceMonitor;
    expect(monitor.spec.endpoints?.[0]?.bearerTokenFile).toBe('/var/run/secrets/kubernetes.io/serviceaccount/token');
    // Liveness and readiness stay open: the kubelet probes without a token.
    expect([container?.livenessProbe?.httpGet?.path, container?.readinessProbe?.httpGet?.path]).toEqual(['/healthz', '/readyz']);
  });
});
