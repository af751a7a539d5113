/**
 * The real Prometheus scrapes the built exporter in secured mode: TLS from a web configuration file
 * (certificates made by openssl here) and `--auth kubernetes`, with the in-process API server answering
 * the TokenReviews and SubjectAccessReviews. A job that checks the certificate against the CA file
 * (`scheme: https`, `tls_config.ca_file`, `server_name`, as the chart's monitors render them) and sends
 * an allowed service account's token from a file (a ServiceMonitor's bearerTokenFile) is up with
 * checkpoint_ metrics; a token the API server does not know is down with 401, a user without the role
 * with 403, and a job trusting another CA never gets past the handshake.
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import yaml from 'js-yaml';
import { writeSampleArchive } from '../../src/demo/sample-archives.js';
import { findBinary } from '../support/binaries.js';
import { startFakeApiServer, type FakeApiServer } from '../support/fake-apiserver.js';
import { findFreePort, queryInstant, startPrometheus, startProcess, waitFor, waitForHttpOk, type ManagedProcess } from '../support/prometheus.js';

const run = promisify(execFile);
const exporterMain = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));
const prometheusBinary = findBinary('prometheus', 'prometheus');
const opensslBinary = findBinary('openssl', 'openssl');
/** The name the exporter's certificate is for, as a Service's DNS name would be; Prometheus checks it as server_name. */
const SERVER_NAME = 'checkpoint-exporter.checkpoint-exporter.svc';

const TOKENS = { prometheus: 'e2e-token-of-prometheus', stranger: 'e2e-token-of-a-user-without-the-role', wrong: 'e2e-token-nobody-issued' };
const PROMETHEUS_USER = 'system:serviceaccount:monitoring:prometheus-k8s';
/** Bounds for real processes: they only fail a broken setup, never a slow one. */
const START_TIMEOUT_MS = 60_000;
const DATA_TIMEOUT_MS = 60_000;

interface Target {
  readonly labels: Record<string, string>;
  readonly health: 'up' | 'down' | 'unknown';
  readonly lastError: string;
}

const env = { work: '', fake: undefined as FakeApiServer | undefined, processes: [] as ManagedProcess[], prometheusUrl: '', exporterUrl: '', startedAtMs: 0 };

function diagnostics(): string {
  return env.processes.map((p) => `--- ${p.name} (pid ${p.pid}) output:\n${p.output()}`).join('\n');
}

async function targets(): Promise<Target[]> {
  const response = await fetch(`${env.prometheusUrl}/api/v1/targets?state=active`);
  const body = (await response.json()) as { data: { activeTargets: Target[] } };
  return body.data.activeTargets;
}

async function targetOf(job: string, health: Target['health']): Promise<Target> {
  return waitFor(
    async () => {
      const target = (await targets()).find((t) => t.labels['job'] === job);
      return target?.health === health ? target : undefined;
    },
    { timeoutMs: DATA_TIMEOUT_MS, description: `the ${job} target to be ${health}`, diagnostics },
  );
}

/**
 * A CA, a server certificate it signs for SERVER_NAME, and a second CA that signs nothing of the
 * exporter's: PEM files in `dir`, made by the real openssl.
 */
async function makeCertificates(openssl: string, dir: string): Promise<{ ca: string; otherCa: string; cert: string; key: string }> {
  const file = (name: string): string => path.join(dir, name);
  for (const [name, subject] of [['ca', '/CN=secured e2e CA'], ['other-ca', '/CN=a CA the exporter does not use']] as const) {
    await run(openssl, ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', file(`${name}.key`), '-out', file(`${name}.crt`), '-days', '2', '-subj', subject]);
  }
  await run(openssl, ['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', file('server.key'), '-out', file('server.csr'), '-subj', `/CN=${SERVER_NAME}`]);
  await writeFile(file('server.ext'), `subjectAltName=DNS:${SERVER_NAME}\nextendedKeyUsage=serverAuth\n`);
  await run(openssl, ['x509', '-req', '-in', file('server.csr'), '-CA', file('ca.crt'), '-CAkey', file('ca.key'), '-CAcreateserial', '-out', file('server.crt'), '-days', '2', '-extfile', file('server.ext')]);
  return { ca: file('ca.crt'), otherCa: file('other-ca.crt'), cert: file('server.crt'), key: file('server.key') };
}

/** GET over TLS, verifying the exporter's certificate for SERVER_NAME against `ca`; the status code. */
async function httpsStatus(url: string, ca: string): Promise<number> {
  const caPem = await readFile(ca);
  return new Promise((resolve, reject) => {
    const request = https.get(url, { ca: caPem, servername: SERVER_NAME, agent: false, timeout: 10_000 }, (response) => {
      response.resume();
      resolve(response.statusCode ?? 0);
    });
    request.on('timeout', () => request.destroy(new Error('request timed out')));
    request.on('error', reject);
  });
}

/** The exporter's environment: no in-cluster API, no inherited jest flags. */
function exporterEnvironment(): NodeJS.ProcessEnv {
  const copy: NodeJS.ProcessEnv = { ...process.env };
  for (const key of ['KUBERNETES_SERVICE_HOST', 'KUBERNETES_SERVICE_PORT', 'NODE_OPTIONS', 'NODE_NAME', 'KUBECONFIG']) delete copy[key];
  return copy;
}

(prometheusBinary !== undefined && opensslBinary !== undefined ? describe : describe.skip)('Prometheus scraping over TLS through Kubernetes authentication and authorization', () => {
  beforeAll(async () => {
    env.work = await mkdtemp(path.join(os.tmpdir(), 'checkpoint-secured-e2e-'));
    const checkpoints = path.join(env.work, 'checkpoints');
    await mkdir(checkpoints);
    await writeSampleArchive(checkpoints, { namespace: 'shop', pod: 'web-0', container: 'nginx', timestamp: new Date(Date.now() - 600_000), runtime: 'cri-o' });

    const fake = await startFakeApiServer();
    env.fake = fake;
    fake.addToken(TOKENS.prometheus, { username: PROMETHEUS_USER, uid: 'uid-prometheus', groups: ['system:serviceaccounts', 'system:serviceaccounts:monitoring'] });
    fake.addToken(TOKENS.stranger, { username: 'system:serviceaccount:default:stranger' });
    // The metrics-reader ClusterRole of the chart, bound to Prometheus's service account.
    fake.allowNonResource(PROMETHEUS_USER, '/metrics');
    const kubeconfig = path.join(env.work, 'kubeconfig');
    await writeFile(kubeconfig, fake.kubeconfigYaml());
    const pki = await makeCertificates(opensslBinary ?? 'openssl', env.work);
    const webConfig = path.join(env.work, 'web.yml');
    await writeFile(webConfig, yaml.dump({ tls_server_config: { cert_file: pki.cert, key_file: pki.key } }));

    const ports = { exporter: await findFreePort(), prometheus: await findFreePort() };
    const exporter = startProcess({
      name: 'checkpoint-exporter',
      command: process.execPath,
      args: [exporterMain, 'serve', '--checkpoint-dir', checkpoints, '--listen-address', `127.0.0.1:${ports.exporter}`, '--kubeconfig', kubeconfig, '--auth', 'kubernetes', '--web.config.file', webConfig, '--settle-time', '100ms', '--log-level', 'warn'],
      env: exporterEnvironment(),
    });
    env.processes.push(exporter);
    env.exporterUrl = `https://127.0.0.1:${ports.exporter}`;
    // The probes stay open, over TLS and without a token: this is how the kubelet sees it.
    await waitFor(
      async () => {
        if (exporter.exited()) throw new Error(`the exporter exited: ${exporter.output()}`);
        return (await httpsStatus(`${env.exporterUrl}/readyz`, pki.ca)) === 200 ? true : undefined;
      },
      { timeoutMs: START_TIMEOUT_MS, description: 'the exporter to answer /readyz over TLS', diagnostics },
    );
    expect(await httpsStatus(`${env.exporterUrl}/metrics`, pki.ca)).toBe(401);

    const tokenFile = (name: string, token: string): Promise<string> => {
      const file = path.join(env.work, `${name}.token`);
      return writeFile(file, `${token}\n`).then(() => file);
    };
    // What the chart's ServiceMonitor renders in secured mode: https, the CA, the server name, the token file.
    const scrape = (job: string, credentialsFile: string, caFile = pki.ca): Record<string, unknown> => ({
      job_name: job,
      scheme: 'https',
      tls_config: { ca_file: caFile, server_name: SERVER_NAME },
      authorization: { type: 'Bearer', credentials_file: credentialsFile },
      static_configs: [{ targets: [`127.0.0.1:${ports.exporter}`] }],
    });
    const configFile = path.join(env.work, 'prometheus.yaml');
    await writeFile(
      configFile,
      yaml.dump({
        global: { scrape_interval: '1s', scrape_timeout: '1s' },
        scrape_configs: [
          scrape('allowed', await tokenFile('allowed', TOKENS.prometheus)),
          scrape('unknown-token', await tokenFile('unknown', TOKENS.wrong)),
          scrape('no-role', await tokenFile('no-role', TOKENS.stranger)),
          scrape('untrusted-ca', await tokenFile('untrusted-ca', TOKENS.prometheus), pki.otherCa),
        ],
      }),
    );
    await mkdir(path.join(env.work, 'prometheus-data'));
    const prometheus = startPrometheus({ binary: prometheusBinary ?? '', configFile, dataDir: path.join(env.work, 'prometheus-data'), port: ports.prometheus });
    env.processes.push(prometheus);
    env.prometheusUrl = `http://127.0.0.1:${ports.prometheus}`;
    env.startedAtMs = Date.now();
    await waitForHttpOk(`${env.prometheusUrl}/-/ready`, prometheus, START_TIMEOUT_MS);
  }, 3 * START_TIMEOUT_MS);

  afterAll(async () => {
    for (const child of [...env.processes].reverse()) await child.stop();
    await env.fake?.close();
    if (env.work !== '') await rm(env.work, { recursive: true, force: true });
  }, 60_000);

  it('is up for the job with the allowed token, with checkpoint_ metrics in Prometheus', async () => {
    const target = await targetOf('allowed', 'up');
    expect(target.lastError).toBe('');
    const series = await waitFor(async () => {
      const found = await queryInstant(env.prometheusUrl, 'checkpoint_archives{job="allowed", namespace="shop", pod="web-0", container="nginx"}');
      return found.length > 0 ? found : undefined;
    }, { timeoutMs: DATA_TIMEOUT_MS, description: 'checkpoint_archives of the seeded container', diagnostics });
    expect(series).toHaveLength(1);
    expect(await queryInstant(env.prometheusUrl, 'checkpoint_auth_requests_total{job="allowed", result="allowed"} > 0')).toHaveLength(1);
  });

  it('is down with 401 for the job whose token the API server does not authenticate', async () => {
    const target = await targetOf('unknown-token', 'down');
    expect(target.lastError).toMatch(/401/);
  });

  it('is down with 403 for the job whose user has no role granting get on /metrics', async () => {
    const target = await targetOf('no-role', 'down');
    expect(target.lastError).toMatch(/403/);
  });

  it('is down for the job that trusts another CA: the handshake fails, Prometheus checks the certificate', async () => {
    const target = await targetOf('untrusted-ca', 'down');
    expect(target.lastError).toMatch(/x509|certificate/);
  });

  it('costs the API server a review per token and cache period, not one per scrape', async () => {
    const fake = env.fake as FakeApiServer;
    const reviewsOf = (token: string): number => fake.countRequests('tokenreviews:create', (r) => JSON.stringify(r.body).includes(token));
    // Several scrapes later (one a second), still one TokenReview for each token.
    await waitFor(async () => {
      const [sample] = (await queryInstant(env.prometheusUrl, 'checkpoint_auth_requests_total{job="allowed", result="allowed"}')) as Array<{ value?: [number, string] }>;
      return Number(sample?.value?.[1] ?? 0) >= 5 ? true : undefined;
    }, { timeoutMs: DATA_TIMEOUT_MS, description: 'five allowed scrapes', diagnostics });
    // A slow machine may outlive a cache period; each one allows one more review, never one per scrape.
    const periods = (ttlMs: number): number => 1 + Math.floor((Date.now() - env.startedAtMs) / ttlMs);
    expect(reviewsOf(TOKENS.prometheus)).toBeLessThanOrEqual(periods(120_000));
    expect(reviewsOf(TOKENS.wrong)).toBeLessThanOrEqual(periods(30_000));
    expect(fake.countRequests('subjectaccessreviews:create')).toBeLessThanOrEqual(2 * periods(60_000));
  });
});
