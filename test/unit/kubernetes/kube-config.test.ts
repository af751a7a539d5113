import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtemp, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadKubeConfig, NO_KUBERNETES_REASON } from '../../../src/kubernetes/kube-config.js';

let dir: string;
let serviceAccountDir: string;
let emptyServiceAccountDir: string;

const kubeconfig = (server: string, skipTls: boolean): string =>
  [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    '- name: c',
    '  cluster:',
    `    server: ${server}`,
    ...(skipTls ? ['    insecure-skip-tls-verify: true'] : []),
    'users:',
    '- name: u',
    '  user:',
    '    token: t',
    'contexts:',
    '- name: x',
    '  context: {cluster: c, user: u}',
    'current-context: x',
    '',
  ].join('\n');

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kube-config-'));
  serviceAccountDir = join(dir, 'sa');
  emptyServiceAccountDir = join(dir, 'empty-sa');
  await mkdir(serviceAccountDir);
  await mkdir(emptyServiceAccountDir);
  await writeFile(join(serviceAccountDir, 'token'), 'token-value');
  await writeFile(join(dir, 'https.yaml'), kubeconfig('https://api.example:6443', false));
  await writeFile(join(dir, 'http-skip.yaml'), kubeconfig('http://127.0.0.1:8080', true));
  await writeFile(join(dir, 'http-verify.yaml'), kubeconfig('http://127.0.0.1:8080', false));
  await writeFile(join(dir, 'no-context.yaml'), 'apiVersion: v1\nkind: Config\nclusters: []\nusers: []\ncontexts: []\n');
  await writeFile(join(dir, 'broken.yaml'), 'clusters: [unclosed\n');
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('loadKubeConfig', () => {
  it.each<[string, () => Parameters<typeof loadKubeConfig>[0], string]>([
    ['a kubeconfig file', () => ({ kubeconfigPath: join(dir, 'https.yaml'), env: {} }), 'https://api.example:6443'],
    ['plain http with TLS verification off', () => ({ kubeconfigPath: join(dir, 'http-skip.yaml'), env: {} }), 'http://127.0.0.1:8080'],
    [
      'in-cluster from the environment',
      () => ({ env: { KUBERNETES_SERVICE_HOST: '10.96.0.1', KUBERNETES_SERVICE_PORT: '443' }, serviceAccountDir }),
      'https://10.96.0.1:443',
    ],
    [
      'in-cluster over IPv6',
      () => ({ env: { KUBERNETES_SERVICE_HOST: 'fd00::1', KUBERNETES_SERVICE_PORT: '443' }, serviceAccountDir }),
      'https://[fd00::1]:443',
    ],
    [
      'an explicit kubeconfig wins over the in-cluster environment',
      () => ({ kubeconfigPath: join(dir, 'https.yaml'), env: { KUBERNETES_SERVICE_HOST: '10.96.0.1', KUBERNETES_SERVICE_PORT: '443' }, serviceAccountDir }),
      'https://api.example:6443',
    ],
  ])('loads %s', (_name, options, server) => {
    const result = loadKubeConfig(options());
    if (!result.ok) throw new Error(result.reason);
    expect(result.value.kubeConfig.getCurrentCluster()?.server).toBe(server);
    expect(result.value.source).toContain(server);
  });

  it('in-cluster authenticates with the mounted token and verifies TLS with the mounted CA', () => {
    const result = loadKubeConfig({ env: { KUBERNETES_SERVICE_HOST: '10.96.0.1', KUBERNETES_SERVICE_PORT: '443' }, serviceAccountDir });
    if (!result.ok) throw new Error(result.reason);
    const cluster = result.value.kubeConfig.getCurrentCluster();
    expect(cluster?.skipTLSVerify).toBe(false);
    expect(cluster?.caFile).toBe(join(serviceAccountDir, 'ca.crt'));
    expect(result.value.kubeConfig.getCurrentUser()?.authProvider?.config?.['tokenFile']).toBe(join(serviceAccountDir, 'token'));
  });

  it.each<[string, () => Parameters<typeof loadKubeConfig>[0], string]>([
    ['nothing configured', () => ({ env: {} }), NO_KUBERNETES_REASON],
    ['an empty host', () => ({ env: { KUBERNETES_SERVICE_HOST: '' } }), NO_KUBERNETES_REASON],
    ['a missing file', () => ({ kubeconfigPath: join(dir, 'absent.yaml'), env: {} }), 'cannot load kubeconfig'],
    ['an unparsable file', () => ({ kubeconfigPath: join(dir, 'broken.yaml'), env: {} }), 'cannot load kubeconfig'],
    ['no current context', () => ({ kubeconfigPath: join(dir, 'no-context.yaml'), env: {} }), 'no current context'],
    ['plain http with TLS verification on', () => ({ kubeconfigPath: join(dir, 'http-verify.yaml'), env: {} }), 'insecure-skip-tls-verify'],
    ['in-cluster without a port', () => ({ env: { KUBERNETES_SERVICE_HOST: '10.96.0.1' }, serviceAccountDir }), 'KUBERNETES_SERVICE_PORT'],
    [
      'in-cluster without a token',
      () => ({ env: { KUBERNETES_SERVICE_HOST: '10.96.0.1', KUBERNETES_SERVICE_PORT: '443' }, serviceAccountDir: emptyServiceAccountDir }),
      'service account token',
    ],
  ])('refuses %s', (_name, options, reason) => {
    const result = loadKubeConfig(options());
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.reason).toContain(reason);
  });
});
