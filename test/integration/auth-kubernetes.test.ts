import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { startFakeApiServer, type FakeApiServer } from '../support/fake-apiserver.js';
import { sampleValue } from '../support/metrics-text.js';
import { runCli, serveBinary, type ServedBinary } from '../support/serve-binary.js';
import { waitUntil } from '../support/wait.js';

/**
 * `serve --auth kubernetes` on the built binary, asking the in-process API server: its TokenReview
 * answers come from a token table and its SubjectAccessReview answers from an allow table set here.
 */
const TOKENS = {
  prometheus: 'token-of-prometheus',
  reader: 'token-of-an-archive-reader',
  stranger: 'token-of-a-user-with-no-role',
  cached: 'token-of-the-cache-test',
  offline: 'token-first-seen-while-the-api-is-down',
};

let fake: FakeApiServer;
let work: string;
let exporter: ServedBinary;

const get = (pathname: string, token?: string): Promise<Response> =>
  fetch(new URL(pathname, exporter.url), token === undefined ? {} : { headers: { Authorization: `Bearer ${token}` } });

const statusOf = async (pathname: string, token?: string): Promise<number> => {
  const response = await get(pathname, token);
  await response.arrayBuffer();
  return response.status;
};

async function authMetric(name: string, labels: Record<string, string>): Promise<number | undefined> {
  const response = await get('/metrics', TOKENS.prometheus);
  return sampleValue(await response.text(), name, labels);
}

beforeAll(async () => {
  fake = await startFakeApiServer();
  fake.addToken(TOKENS.prometheus, { username: 'system:serviceaccount:monitoring:prometheus', uid: 'uid-prometheus', groups: ['system:serviceaccounts'] });
  fake.addToken(TOKENS.reader, { username: 'archive-reader' });
  fake.addToken(TOKENS.stranger, { username: 'stranger' });
  fake.addToken(TOKENS.cached, { username: 'cache-user' });
  fake.addToken(TOKENS.offline, { username: 'offline-user' });
  fake.allowNonResource('system:serviceaccount:monitoring:prometheus', '/metrics');
  fake.allowNonResource('archive-reader', '/api/v1/*');
  fake.allowNonResource('cache-user', '/metrics');
  fake.allowNonResource('offline-user', '/metrics');
  work = await mkdtemp(path.join(os.tmpdir(), 'checkpoint-auth-'));
  const kubeconfig = path.join(work, 'kubeconfig');
  await writeFile(kubeconfig, fake.kubeconfigYaml());
  exporter = await serveBinary(['--checkpoint-dir', work, '--kubeconfig', kubeconfig, '--auth', 'kubernetes']);
}, 60_000);

afterAll(async () => {
  await exporter?.stop();
  await fake?.close();
  if (work) await rm(work, { recursive: true, force: true });
});

describe('serve --auth kubernetes', () => {
  it('answers 401 with a Bearer challenge to a request without a token, and asks the API nothing', async () => {
    const before = fake.countRequests('tokenreviews:create');
    const response = await get('/metrics');
    await response.arrayBuffer();
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toBe('Bearer realm="checkpoint-exporter"');
    expect(await statusOf('/api/v1/archives')).toBe(401);
    expect(fake.countRequests('tokenreviews:create')).toBe(before);
  });

  it('answers 401 to a token the TokenReview does not authenticate', async () => {
    expect(await statusOf('/metrics', 'a-token-nobody-issued')).toBe(401);
    const review = fake.requests.find((r) => r.route === 'tokenreviews:create' && JSON.stringify(r.body).includes('a-token-nobody-issued'));
    expect(review?.body).toMatchObject({ kind: 'TokenReview', spec: { token: 'a-token-nobody-issued' } });
  });

  it('answers 403 to a known user the SubjectAccessReview does not allow', async () => {
    const response = await get('/metrics', TOKENS.stranger);
    expect(response.status).toBe(403);
    expect(await response.text()).toContain('user=stranger');
  });

  it('asks with the user, uid and groups the TokenReview returned, for get on the non-resource path', async () => {
    expect(await statusOf('/metrics', TOKENS.prometheus)).toBe(200);
    const review = fake.requests.find((r) => r.route === 'subjectaccessreviews:create' && JSON.stringify(r.body).includes('monitoring:prometheus'));
    expect(review?.body).toMatchObject({
      kind: 'SubjectAccessReview',
      spec: {
        user: 'system:serviceaccount:monitoring:prometheus',
        uid: 'uid-prometheus',
        groups: ['system:serviceaccounts', 'system:authenticated'],
        nonResourceAttributes: { path: '/metrics', verb: 'get' },
      },
    });
  });

  it('authorizes each path on its own: /metrics for one user, /api/v1/* for another', async () => {
    const response = await get('/metrics', TOKENS.prometheus);
    expect(response.status).toBe(200);
    expect(await response.text()).toContain('checkpoint_kubernetes_api_up');
    expect(await statusOf('/api/v1/archives', TOKENS.prometheus)).toBe(403);
    const archives = await get('/api/v1/archives', TOKENS.reader);
    expect(archives.status).toBe(200);
    expect(await archives.json()).toHaveProperty('archives');
    expect(await statusOf('/api/v1/plan', TOKENS.reader)).toBe(200);
    expect(await statusOf('/metrics', TOKENS.reader)).toBe(403);
  });

  it.each(['/api/v1/../metrics', '/api/v1/%2e%2e/metrics', '/api/v1/%2E%2E/metrics', '/api/v1/..%2fmetrics', '//metrics', '/METRICS'])(
    'never serves the metrics to a user allowed /api/v1/* through the path %s',
    async (rawPath) => {
      // Sent as written: fetch would resolve the dot segments before sending.
      const { status, body } = await new Promise<{ status: number; body: string }>((resolve, reject) => {
        const request = http.get(new URL(exporter.url), { path: rawPath, headers: { Authorization: `Bearer ${TOKENS.reader}` } }, (response) => {
          let text = '';
          response.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
          response.on('end', () => resolve({ status: response.statusCode ?? 0, body: text }));
        });
        request.on('error', reject);
      });
      expect(body).not.toContain('checkpoint_');
      expect([403, 404]).toContain(status);
    },
  );

  it('keeps /healthz and /readyz open to the kubelet, which has no token', async () => {
    expect(await statusOf('/healthz')).toBe(200);
    await waitUntil(async () => (await statusOf('/readyz')) === 200, '/readyz to answer 200 without a token');
  });

  it('reviews a token once for many requests: one TokenReview and one SubjectAccessReview for ten scrapes', async () => {
    const has = (r: { body: unknown }): boolean => JSON.stringify(r.body).includes(TOKENS.cached) || JSON.stringify(r.body).includes('cache-user');
    // Five at once share the review in flight; five after it are answered from the cache.
    const first = await Promise.all(Array.from({ length: 5 }, () => statusOf('/metrics', TOKENS.cached)));
    for (let i = 0; i < 5; i += 1) first.push(await statusOf('/metrics', TOKENS.cached));
    expect(first).toEqual(Array(10).fill(200));
    expect(fake.countRequests('tokenreviews:create', has)).toBe(1);
    expect(fake.countRequests('subjectaccessreviews:create', has)).toBe(1);
  });

  it('fails closed with 503, a log line and a metric when the API server cannot be asked', async () => {
    const errorsBefore = (await authMetric('checkpoint_auth_requests_total', { result: 'error' })) ?? 0;
    const reviewErrorsBefore = (await authMetric('checkpoint_auth_review_errors_total', { review: 'TokenReview' })) ?? 0;
    fake.setFault('tokenreviews:create', { kind: 'status', code: 500 });
    try {
      expect(await statusOf('/metrics', TOKENS.offline)).toBe(503);
      fake.setFault('tokenreviews:create', { kind: 'drop' });
      expect(await statusOf('/api/v1/archives', TOKENS.offline)).toBe(503);
      // A token reviewed before the outage still works: the cache holds decisions, not the API's health.
      expect(await statusOf('/metrics', TOKENS.prometheus)).toBe(200);
    } finally {
      fake.setFault('tokenreviews:create', undefined);
    }
    expect(await authMetric('checkpoint_auth_requests_total', { result: 'error' })).toBe(errorsBefore + 2);
    expect(await authMetric('checkpoint_auth_review_errors_total', { review: 'TokenReview' })).toBe(reviewErrorsBefore + 2);
    const lines = exporter.log().split('\n').filter((line) => line.includes('cannot check access with the Kubernetes API'));
    // One line per outage interval, whatever the number of refusals; the metric counts each.
    expect(lines.length).toBeGreaterThanOrEqual(1);
    expect(lines[0]).toContain('"review":"TokenReview"');
    expect(lines[0]).toContain('HTTP 500');
    expect(exporter.log()).not.toContain(TOKENS.offline);
    // Once the API answers again, the same token is let in: failures are never cached.
    expect(await statusOf('/metrics', TOKENS.offline)).toBe(200);
  });

  it('counts every result in checkpoint_auth_requests_total', async () => {
    const text = await (await get('/metrics', TOKENS.prometheus)).text();
    for (const result of ['allowed', 'no_token', 'unauthenticated', 'forbidden', 'error']) {
      expect(sampleValue(text, 'checkpoint_auth_requests_total', { result })).toBeGreaterThan(0);
    }
    // Present from the start, so a rate over the first one is not lost.
    expect(sampleValue(text, 'checkpoint_auth_requests_total', { result: 'throttled' })).toBe(0);
  });

  it('never writes a token to the log', () => {
    for (const token of [...Object.values(TOKENS), 'a-token-nobody-issued']) expect(exporter.log()).not.toContain(token);
  });
});

describe('serve --auth kubernetes without an API server', () => {
  it('is a configuration error at start: exit 2 and one line', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'checkpoint-auth-'));
    try {
      const run = await runCli(['serve', '--checkpoint-dir', dir, '--listen-address', '127.0.0.1:0', '--auth', 'kubernetes']);
      expect(run.code).toBe(2);
      expect(run.stderr.trim().split('\n').filter((line) => line.startsWith('checkpoint-exporter:'))).toEqual([
        'checkpoint-exporter: --auth kubernetes needs the Kubernetes API: no Kubernetes API configured (neither KUBERNETES_SERVICE_HOST nor a kubeconfig)',
      ]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('refuses an unknown mode as a usage error (exit 1)', async () => {
    const run = await runCli(['serve', '--auth', 'basic']);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain("--auth");
  });
});
