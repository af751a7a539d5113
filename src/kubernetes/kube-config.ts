import { existsSync } from 'node:fs';
import { isIPv6 } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';
import type { Result } from '../archive/types.js';
import { messageOf } from '../errors.js';

/** Where a pod's service account credentials are mounted. */
export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

export interface LoadKubeConfigOptions {
  /** An explicit kubeconfig file; wins over the in-cluster environment, as with kubectl's --kubeconfig. */
  readonly kubeconfigPath?: string | undefined;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Overrides {@link SERVICE_ACCOUNT_DIR}; for tests. */
  readonly serviceAccountDir?: string;
}

export interface LoadedKubeConfig {
  readonly kubeConfig: KubeConfig;
  /** For the one startup log line: `in-cluster (https://10.0.0.1:443)` or `kubeconfig /path (https://…)`. */
  readonly source: string;
}

export const NO_KUBERNETES_REASON = 'no Kubernetes API configured (neither KUBERNETES_SERVICE_HOST nor a kubeconfig)';

/**
 * Finds the API server: an explicit kubeconfig file, else the in-cluster service account when
 * KUBERNETES_SERVICE_HOST is set, else nothing, so the exporter runs without Kubernetes and says so.
 * Reads the environment only through `env`; the client's own loadFromCluster reads process.env.
 */
export function loadKubeConfig(options: LoadKubeConfigOptions): Result<LoadedKubeConfig> {
  if (options.kubeconfigPath !== undefined && options.kubeconfigPath !== '') return loadFromFile(options.kubeconfigPath);
  const host = options.env['KUBERNETES_SERVICE_HOST'];
  if (host !== undefined && host !== '') return loadInCluster(host, options.env['KUBERNETES_SERVICE_PORT'], options.serviceAccountDir ?? SERVICE_ACCOUNT_DIR);
  return { ok: false, reason: NO_KUBERNETES_REASON };
}

function loadFromFile(path: string): Result<LoadedKubeConfig> {
  const kubeConfig = new KubeConfig();
  try {
    kubeConfig.loadFromFile(path);
  } catch (error) {
    return { ok: false, reason: `cannot load kubeconfig ${path}: ${messageOf(error)}` };
  }
  return checkUsable(kubeConfig, `kubeconfig ${path}`);
}

function loadInCluster(host: string, port: string | undefined, serviceAccountDir: string): Result<LoadedKubeConfig> {
  if (port === undefined || !/^[0-9]{1,5}$/.test(port)) {
    return { ok: false, reason: `KUBERNETES_SERVICE_HOST is set but KUBERNETES_SERVICE_PORT is missing or invalid (${port ?? 'unset'})` };
  }
  const tokenFile = `${serviceAccountDir}/token`;
  const caFile = `${serviceAccountDir}/ca.crt`;
  if (!existsSync(tokenFile)) return { ok: false, reason: `in-cluster configuration without a service account token at ${tokenFile}` };
  const server = `https://${isIPv6(host) ? `[${host}]` : host}:${port}`;
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromOptions({
    clusters: [{ name: 'in-cluster', server, caFile, skipTLSVerify: false }],
    // The tokenFile provider re-reads the projected token, which the kubelet rotates.
    users: [{ name: 'service-account', authProvider: { name: 'tokenFile', config: { tokenFile } } }],
    contexts: [{ name: 'in-cluster', cluster: 'in-cluster', user: 'service-account' }],
    currentContext: 'in-cluster',
  });
  return checkUsable(kubeConfig, 'in-cluster');
}

function checkUsable(kubeConfig: KubeConfig, origin: string): Result<LoadedKubeConfig> {
  const cluster = kubeConfig.getCurrentCluster();
  if (!cluster) return { ok: false, reason: `${origin}: no current context with a cluster` };
  let url: URL;
  try {
    url = new URL(cluster.server);
  } catch {
    return { ok: false, reason: `${origin}: invalid server URL ${JSON.stringify(cluster.server)}` };
  }
  // The client refuses plain http unless TLS verification is off; say so now rather than on every request.
  if (url.protocol === 'http:' && !cluster.skipTLSVerify) {
    return { ok: false, reason: `${origin}: plain http server ${cluster.server} needs insecure-skip-tls-verify` };
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    return { ok: false, reason: `${origin}: unsupported server scheme ${url.protocol}` };
  }
  return { ok: true, value: { kubeConfig, source: `${origin} (${cluster.server})` } };
}
