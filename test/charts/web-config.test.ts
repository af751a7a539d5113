import { describe, expect, it } from '@jest/globals';
import yaml from 'js-yaml';
import type { IDaemonSet } from 'kubernetes-models/apps/v1/DaemonSet';
import type { ISecret } from 'kubernetes-models/v1/Secret';
import { parseWebConfig } from '../../src/server/web-config.js';
import { findObject } from '../manifests/support/kube-object.js';
import { validateWithModel } from '../manifests/support/models.js';
import { helmUnavailableReason, renderChart } from './support/helm.js';

/** The chart's webConfig values, rendered by the real helm: the Secret, the flag, the mounts and the probes' scheme. */
const withHelm = helmUnavailableReason() === undefined ? describe : describe.skip;

const TLS_CONFIG = {
  tls_server_config: { cert_file: '/etc/checkpoint-exporter-tls/tls.crt', key_file: '/etc/checkpoint-exporter-tls/tls.key' },
  basic_auth_users: { prometheus: '$2y$10$QOauhQNbBCuQDKes6eFzPeMqBSjb7Mr5DUmpZ/VcEd00UAV/LDeSi' },
};

function exporterContainer(objects: Awaited<ReturnType<typeof renderChart>>): NonNullable<IDaemonSet['spec']>['template']['spec'] & object {
  const spec = (findObject(objects, 'DaemonSet', 'checkpoint-exporter') as unknown as IDaemonSet).spec?.template.spec;
  if (spec === undefined) throw new Error('no pod spec');
  return spec;
}

withHelm('chart: web configuration', () => {
  it('renders nothing of it by default: plain HTTP probes, no flag, no Secret', async () => {
    const objects = await renderChart();
    const pod = exporterContainer(objects);
    const container = pod.containers[0];
    expect(container?.args).not.toContain('--web-config-file');
    expect(container?.livenessProbe?.httpGet?.scheme).toBeUndefined();
    expect(objects.some((object) => object.kind === 'Secret')).toBe(false);
  });

  it('stores config in a Secret the exporter reads with --web-config-file, mounts the TLS Secret and probes over HTTPS', async () => {
    const objects = await renderChart({ webConfig: { config: TLS_CONFIG, tlsSecret: 'exporter-tls' } });
    const secret = findObject(objects, 'Secret', 'checkpoint-exporter-web-config') as unknown as ISecret;
    const text = secret.stringData?.['web-config.yaml'] ?? '';
    // What the chart stores is a configuration the exporter accepts, as it is.
    const parsed = parseWebConfig(text, '/etc/checkpoint-exporter-web');
    expect(parsed.ok).toBe(true);
    expect(yaml.load(text)).toEqual(TLS_CONFIG);
    const pod = exporterContainer(objects);
    const container = pod.containers[0];
    const args = container?.args ?? [];
    expect(args[args.indexOf('--web-config-file') + 1]).toBe('/etc/checkpoint-exporter-web/web-config.yaml');
    expect(container?.volumeMounts).toEqual(
      expect.arrayContaining([
        { name: 'web-config', mountPath: '/etc/checkpoint-exporter-web', readOnly: true },
        { name: 'web-tls', mountPath: '/etc/checkpoint-exporter-tls', readOnly: true },
      ]),
    );
    // No subPath: the kubelet's updates of a whole Secret volume are what the exporter reloads.
    expect(container?.volumeMounts?.every((mount) => mount.subPath === undefined)).toBe(true);
    expect(pod.volumes).toEqual(
      expect.arrayContaining([
        { name: 'web-config', secret: { secretName: 'checkpoint-exporter-web-config' } },
        { name: 'web-tls', secret: { secretName: 'exporter-tls' } },
      ]),
    );
    for (const probe of [container?.startupProbe, container?.readinessProbe, container?.livenessProbe]) expect(probe?.httpGet?.scheme).toBe('HTTPS');
    for (const object of objects) expect(() => validateWithModel(object)).not.toThrow();
  });

  it('keeps HTTP probes for basic auth without TLS, and takes an existing Secret', async () => {
    const basic = exporterContainer(await renderChart({ webConfig: { config: { basic_auth_users: TLS_CONFIG.basic_auth_users } } })).containers[0];
    expect(basic?.args).toContain('--web-config-file');
    expect(basic?.readinessProbe?.httpGet?.scheme).toBeUndefined();
    const objects = await renderChart({ webConfig: { existingSecret: 'my-web-config', tls: true } });
    expect(objects.some((object) => object.kind === 'Secret')).toBe(false);
    const pod = exporterContainer(objects);
    expect(pod.volumes).toEqual(expect.arrayContaining([{ name: 'web-config', secret: { secretName: 'my-web-config' } }]));
    expect(pod.containers[0]?.livenessProbe?.httpGet?.scheme).toBe('HTTPS');
  });

  it.each([
    ['config and existingSecret together', { config: { basic_auth_users: {} }, existingSecret: 'x' }, /set config or existingSecret, not both/],
    ['tls without a configuration', { tls: true }, /webConfig\.tls: the exporter serves TLS only with a web configuration/],
    ['an unknown key in config', { config: { tls_server_confg: {} } }, /tls_server_confg/],
    ['an unknown webConfig value', { secret: 'x' }, /secret/],
  ])('refuses %s', async (_name, webConfig, message) => {
    await expect(renderChart({ webConfig })).rejects.toThrow(message);
  });
});
