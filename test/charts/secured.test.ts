import { beforeAll, describe, expect, it } from '@jest/globals';
import type { IDaemonSet } from 'kubernetes-models/apps/v1/DaemonSet';
import type { IClusterRole } from 'kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRole';
import type { IClusterRoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRoleBinding';
import type { IServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor';
import type { IPodMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PodMonitor';
import { findObject, identify, type KubeObject } from '../manifests/support/kube-object.js';
import { validateWithModel } from '../manifests/support/models.js';
import { loadTarget } from '../manifests/support/targets.js';
import { CHART, helm, helmUnavailableReason, renderChart } from './support/helm.js';

/**
 * The chart in secured mode, rendered by the real helm: `auth.mode=kubernetes` adds the flag, the review
 * permissions, the reader roles and the monitors' token, in agreement with the kustomize overlay; and the
 * schema refuses an update strategy the API server would refuse.
 */
const withHelm = helmUnavailableReason() === undefined ? describe : describe.skip;

const SECURED = { auth: { mode: 'kubernetes' }, serviceMonitor: { enabled: true } };
/** The exporter serving TLS from a mounted Secret, as docs/install.md sets it up. */
const WEB_TLS = {
  config: { tls_server_config: { cert_file: '/etc/checkpoint-exporter-tls/tls.crt', key_file: '/etc/checkpoint-exporter-tls/tls.key' } },
  tlsSecret: 'checkpoint-exporter-tls',
};

const rulesOf = (objects: readonly KubeObject[], name: string): unknown => (findObject(objects, 'ClusterRole', name) as unknown as IClusterRole).rules;
const argsOf = (objects: readonly KubeObject[]): string[] => (findObject(objects, 'DaemonSet', 'checkpoint-exporter') as unknown as IDaemonSet).spec?.template.spec?.containers[0]?.args ?? [];

withHelm('helm chart, secured mode', () => {
  let secured: KubeObject[];
  let plain: KubeObject[];
  let kustomizeSecured: KubeObject[];

  beforeAll(async () => {
    [secured, plain, kustomizeSecured] = await Promise.all([renderChart(SECURED), renderChart({ serviceMonitor: { enabled: true } }), loadTarget('kubernetesAuth')]);
  }, 60_000);

  it('passes helm lint --strict with auth.mode=kubernetes and either monitor', async () => {
    for (const args of [
      ['--set', 'auth.mode=kubernetes,serviceMonitor.enabled=true'],
      ['--set', 'auth.mode=kubernetes,podMonitor.enabled=true,auth.tokenSecret.name=prometheus-token'],
    ]) {
      const { stdout } = await helm(['lint', '--strict', CHART, ...args]);
      expect(stdout).toContain('1 chart(s) linted, 0 chart(s) failed');
      expect(stdout).not.toMatch(/\[(WARNING|ERROR)\]/);
    }
  });

  it('adds the reader roles and the binding for Prometheus, and nothing else; every object validates', () => {
    expect(secured.map(identify).filter((id) => !plain.map(identify).includes(id)).sort()).toEqual(
      ['ClusterRole/checkpoint-exporter-api-reader', 'ClusterRole/checkpoint-exporter-metrics-reader', 'ClusterRoleBinding/checkpoint-exporter-metrics-reader'].sort(),
    );
    for (const object of secured) expect(() => validateWithModel(object)).not.toThrow();
    const binding = findObject(secured, 'ClusterRoleBinding', 'checkpoint-exporter-metrics-reader') as unknown as IClusterRoleBinding;
    expect(binding.subjects).toEqual([{ kind: 'ServiceAccount', name: 'kube-prometheus-stack-prometheus', namespace: 'monitoring' }]);
    expect(binding.roleRef.name).toBe('checkpoint-exporter-metrics-reader');
  });

  it('grants what the kustomize kubernetes-auth overlay grants: the same exporter role and reader roles', () => {
    for (const name of ['checkpoint-exporter', 'checkpoint-exporter-metrics-reader', 'checkpoint-exporter-api-reader']) {
      expect(rulesOf(secured, name)).toEqual(rulesOf(kustomizeSecured, name));
    }
    expect(rulesOf(secured, 'checkpoint-exporter')).toEqual([
      ...(rulesOf(plain, 'checkpoint-exporter') as unknown[]),
      { apiGroups: ['authentication.k8s.io'], resources: ['tokenreviews'], verbs: ['create'] },
      { apiGroups: ['authorization.k8s.io'], resources: ['subjectaccessreviews'], verbs: ['create'] },
    ]);
  });

  it('runs the exporter with --auth kubernetes, as the overlay does; without it the flag and the review rules are absent', () => {
    expect(argsOf(secured).slice(-2)).toEqual(['--auth', 'kubernetes']);
    expect(argsOf(secured)).toEqual(argsOf(kustomizeSecured));
    expect(argsOf(plain)).not.toContain('--auth');
    expect(JSON.stringify(rulesOf(plain, 'checkpoint-exporter'))).not.toContain('tokenreviews');
  });

  it('makes the ServiceMonitor send Prometheus\'s service account token, as the overlay does', () => {
    const endpoint = (objects: readonly KubeObject[]): unknown => (findObject(objects, 'ServiceMonitor', 'checkpoint-exporter') as unknown as IServiceMonitor).spec.endpoints?.[0];
    expect(endpoint(secured)).toMatchObject({ bearerTokenFile: '/var/run/secrets/kubernetes.io/serviceaccount/token' });
    expect(endpoint(secured)).toEqual(endpoint(kustomizeSecured));
    expect(endpoint(plain)).not.toHaveProperty('bearerTokenFile');
    expect(endpoint(plain)).not.toHaveProperty('authorization');
  });

  it('sends a token from a Secret when auth.tokenSecret is set, from a ServiceMonitor or a PodMonitor', async () => {
    const tokenSecret = { name: 'prometheus-token', key: 'token' };
    const authorization = { type: 'Bearer', credentials: tokenSecret };
    const service = await renderChart({ ...SECURED, auth: { mode: 'kubernetes', tokenSecret } });
    const serviceEndpoint = (findObject(service, 'ServiceMonitor', 'checkpoint-exporter') as unknown as IServiceMonitor).spec.endpoints?.[0];
    expect(serviceEndpoint).toMatchObject({ authorization });
    expect(serviceEndpoint).not.toHaveProperty('bearerTokenFile');
    const pod = await renderChart({ auth: { mode: 'kubernetes', tokenSecret }, podMonitor: { enabled: true } });
    expect((findObject(pod, 'PodMonitor', 'checkpoint-exporter') as unknown as IPodMonitor).spec.podMetricsEndpoints?.[0]).toMatchObject({ authorization });
    for (const object of [...service, ...pod]) expect(() => validateWithModel(object)).not.toThrow();
  });

  it('binds the API reader role to the given subjects, and Prometheus to nothing when its name is empty', async () => {
    const apiReaders = [{ kind: 'Group', apiGroup: 'rbac.authorization.k8s.io', name: 'sre' }];
    const objects = await renderChart({ auth: { mode: 'kubernetes', apiReaders, prometheusServiceAccount: { name: '' } } });
    expect((findObject(objects, 'ClusterRoleBinding', 'checkpoint-exporter-api-reader') as unknown as IClusterRoleBinding).subjects).toEqual(apiReaders);
    expect(objects.map(identify)).not.toContain('ClusterRoleBinding/checkpoint-exporter-metrics-reader');
    expect(objects.map(identify)).toContain('ClusterRole/checkpoint-exporter-metrics-reader');
  });

  it('scrapes https when the exporter serves TLS, checking the certificate against the CA and server name of scrapeTls, from either monitor', async () => {
    const ca = { secret: { name: 'checkpoint-exporter-tls', key: 'ca.crt' } };
    const scrapeTls = { serverName: 'checkpoint-exporter.checkpoint-exporter.svc', ca };
    const service = await renderChart({ ...SECURED, webConfig: WEB_TLS, scrapeTls });
    const endpoint = (findObject(service, 'ServiceMonitor', 'checkpoint-exporter') as unknown as IServiceMonitor).spec.endpoints?.[0];
    expect(endpoint).toMatchObject({ scheme: 'https', tlsConfig: { ca, serverName: scrapeTls.serverName }, bearerTokenFile: '/var/run/secrets/kubernetes.io/serviceaccount/token' });
    const annotations = (findObject(service, 'DaemonSet', 'checkpoint-exporter') as unknown as IDaemonSet).spec?.template.metadata?.annotations;
    expect(annotations?.['prometheus.io/scheme']).toBe('https');
    const configMapCa = { configMap: { name: 'exporter-ca', key: 'ca.crt' } };
    const pod = await renderChart({ podMonitor: { enabled: true }, webConfig: WEB_TLS, scrapeTls: { ca: configMapCa } });
    expect((findObject(pod, 'PodMonitor', 'checkpoint-exporter') as unknown as IPodMonitor).spec.podMetricsEndpoints?.[0]).toMatchObject({ scheme: 'https', tlsConfig: { ca: configMapCa } });
    const file = await renderChart({ serviceMonitor: { enabled: true }, webConfig: WEB_TLS, scrapeTls: { caFile: '/etc/prometheus/secrets/exporter-ca/ca.crt' } });
    expect((findObject(file, 'ServiceMonitor', 'checkpoint-exporter') as unknown as IServiceMonitor).spec.endpoints?.[0]).toMatchObject({
      scheme: 'https',
      tlsConfig: { caFile: '/etc/prometheus/secrets/exporter-ca/ca.crt' },
    });
    for (const object of [...service, ...pod, ...file]) expect(() => validateWithModel(object)).not.toThrow();
    // Plain HTTP: scrapeTls alone changes nothing.
    const http = await renderChart({ serviceMonitor: { enabled: true }, scrapeTls });
    expect((findObject(http, 'ServiceMonitor', 'checkpoint-exporter') as unknown as IServiceMonitor).spec.endpoints?.[0]).not.toHaveProperty('scheme');
    expect((findObject(http, 'ServiceMonitor', 'checkpoint-exporter') as unknown as IServiceMonitor).spec.endpoints?.[0]).not.toHaveProperty('tlsConfig');
  });

  it.each([
    ['TLS without a CA to check the certificate with', { serviceMonitor: { enabled: true }, webConfig: WEB_TLS }, /the exporter serves TLS: scrapeTls\.ca .* or scrapeTls\.caFile must say which CA/],
    ['a PodMonitor with a CA file', { podMonitor: { enabled: true }, webConfig: WEB_TLS, scrapeTls: { caFile: '/ca.crt' } }, /podMonitor with TLS needs scrapeTls\.ca/],
    ['a CA in both a Secret and a ConfigMap', { scrapeTls: { ca: { secret: { name: 'a', key: 'b' }, configMap: { name: 'a', key: 'b' } } } }, /scrapeTls\.ca/],
    ['an unknown mode', { auth: { mode: 'basic' } }, /auth\.mode/],
    ['a PodMonitor without a token Secret: it cannot send a file', { auth: { mode: 'kubernetes' }, podMonitor: { enabled: true } }, /podMonitor with auth\.mode kubernetes needs auth\.tokenSecret\.name/],
  ])('refuses %s', async (_name, values, message) => {
    await expect(renderChart(values)).rejects.toThrow(message);
  });
});

withHelm('helm chart, update strategy', () => {
  it.each([
    ['maxUnavailable 0 without maxSurge', { maxUnavailable: 0 }, /updateStrategy\.rollingUpdate: maxSurge is required/],
    ['maxUnavailable 0 with maxSurge 0', { maxUnavailable: 0, maxSurge: 0 }, /updateStrategy\.rollingUpdate\.maxSurge: Must be greater than or equal to 1/],
    ['maxUnavailable 0% with maxSurge 0%', { maxUnavailable: '0%', maxSurge: '0%' }, /updateStrategy\.rollingUpdate\.maxSurge/],
    ['both non-zero', { maxUnavailable: 1, maxSurge: 1 }, /updateStrategy\.rollingUpdate\.maxSurge: .*must be one of the following: 0, "0%"/],
    ['a surge beside the default maxUnavailable of 1', { maxSurge: '10%' }, /updateStrategy\.rollingUpdate\.maxSurge: .*must be one of the following: 0, "0%"/],
    ['more than 100 %', { maxUnavailable: '150%' }, /updateStrategy\.rollingUpdate\.maxUnavailable/],
    ['a negative count', { maxUnavailable: -1 }, /updateStrategy\.rollingUpdate\.maxUnavailable/],
    ['a misspelled field', { maxUnavailble: 1 }, /Additional property maxUnavailble is not allowed/],
  ])('refuses %s, which the API server would reject', async (_name, rollingUpdate, message) => {
    // updateStrategy is given whole, so the default maxUnavailable of the values file does not merge in.
    await expect(renderChart({ updateStrategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: null, ...rollingUpdate } } })).rejects.toThrow(message);
  });

  it.each([
    ['a percentage', { maxUnavailable: '25%' }],
    ['a count', { maxUnavailable: 3 }],
    ['a surge with maxUnavailable 0', { maxUnavailable: 0, maxSurge: 1 }],
  ])('accepts %s', async (_name, rollingUpdate) => {
    const objects = await renderChart({ updateStrategy: { type: 'RollingUpdate', rollingUpdate } });
    const daemonSet = findObject(objects, 'DaemonSet', 'checkpoint-exporter') as unknown as IDaemonSet;
    expect(daemonSet.spec?.updateStrategy?.rollingUpdate).toEqual(rollingUpdate);
    expect(() => validateWithModel(daemonSet as unknown as KubeObject)).not.toThrow();
  });

  it('refuses an unknown strategy type', async () => {
    await expect(renderChart({ updateStrategy: { type: 'Recreate' } })).rejects.toThrow(/updateStrategy\.type/);
  });
});
