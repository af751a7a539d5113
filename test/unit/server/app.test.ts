import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Gauge, Registry } from 'prom-client';
import { createServerApp } from '../../../src/server/app.js';
import { closeServer, listen, parseListenAddress } from '../../../src/server/listen.js';
import { createCapturingLogger } from '../inventory/fixtures.js';
import { sampleStatus } from '../../support/exporter-status.js';

describe('parseListenAddress', () => {
  it.each([
    ['127.0.0.1:9873', { host: '127.0.0.1', port: 9873 }],
    [':9873', { host: '0.0.0.0', port: 9873 }],
    ['[::1]:80', { host: '::1', port: 80 }],
    ['localhost:0', { host: 'localhost', port: 0 }],
  ])('%s', (text, expected) => {
    expect(parseListenAddress(text)).toEqual(expected);
  });
  it.each(['9873', 'host:', 'host:99999', '::1:80', 'a:b'])('rejects %s', (text) => {
    expect(parseListenAddress(text)).toBeUndefined();
  });
});

/** Yields the chunks in order, turning the event loop between them as the streamed views do. */
async function* chunked(...chunks: string[]): AsyncGenerator<string> {
  for (const chunk of chunks) {
    yield chunk;
    await new Promise((wake) => setImmediate(wake));
  }
}

describe('HTTP server', () => {
  let server: Server;
  let base: string;
  let ready = false;
  let metricsCalls = 0;
  let metricsFail = false;
  let archives: () => AsyncIterable<string> = () => chunked('{"archives":[', '{"file":"a.tar"}', ',{"file":"b.tar"}', ']}\n');
  const logged = createCapturingLogger();

  beforeAll(async () => {
    const registry = new Registry();
    new Gauge({ name: 'probe_value', help: 'A value for the test.', registers: [registry] }).set(42);
    const app = createServerApp({
      metrics: async () => {
        metricsCalls += 1;
        if (metricsFail) throw new Error('collector exploded');
        return registry.metrics();
      },
      metricsContentType: registry.contentType,
      version: '1.2.3',
      logger: logged.logger,
      ready: () => ready,
      // A new serializer is a new version of the view.
      archives: { current: () => ({ key: [archives], serialize: archives }) },
      policy: () => ({ effective: { global: { maxCheckpointsPerContainer: 10 } } }),
      status: async () => sampleStatus({ directory: { state: 'unreadable', problem: 'cannot watch it: EACCES: permission denied' } }),
      plan: { current: () => ({ key: [], serialize: () => chunked('{"deletions":[', ']', ',"unsatisfiable":[]}') }) },
    });
    server = await listen(app, { host: '127.0.0.1', port: 0 });
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => closeServer(server));

  it('serves metrics in the Prometheus text format, computed per request', async () => {
    const before = metricsCalls;
    const res = await fetch(`${base}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(await res.text()).toMatch(/^probe_value 42$/m);
    await (await fetch(`${base}/metrics`)).text();
    expect(metricsCalls - before).toBe(2);
  });

  it('answers a failing scrape with 500 and logs why', async () => {
    metricsFail = true;
    try {
      expect((await fetch(`${base}/metrics`)).status).toBe(500);
    } finally {
      metricsFail = false;
    }
    expect(logged.lines.some((line) => line.msg === 'http request failed')).toBe(true);
  });

  it('answers readiness only once the initial scan is complete', async () => {
    ready = false;
    expect((await fetch(`${base}/readyz`)).status).toBe(503);
    ready = true;
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
  });

  it('serves the JSON APIs, joining the streamed chunks, and a landing page with the version and links', async () => {
    const res = await fetch(`${base}/api/v1/archives`);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await res.json()).toEqual({ archives: [{ file: 'a.tar' }, { file: 'b.tar' }] });
    expect(await (await fetch(`${base}/api/v1/policy`)).json()).toEqual({ effective: { global: { maxCheckpointsPerContainer: 10 } } });
    const plan = await fetch(`${base}/api/v1/plan`);
    expect(plan.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await plan.json()).toEqual({ deletions: [], unsatisfiable: [] });
    const page = await (await fetch(`${base}/`)).text();
    expect(page).toContain('1.2.3');
    for (const path of ['/metrics', '/api/v1/status', '/api/v1/archives', '/api/v1/policy', '/api/v1/plan', '/healthz', '/readyz']) expect(page).toContain(`href="${path}"`);
  });

  it('serves the state at a glance: /api/v1/status as JSON and the same facts on the landing page', async () => {
    const status = (await (await fetch(`${base}/api/v1/status`)).json()) as ReturnType<typeof sampleStatus>;
    expect(status.directory).toMatchObject({ state: 'unreadable', problem: 'cannot watch it: EACCES: permission denied' });
    const page = await (await fetch(`${base}/`)).text();
    expect(page).not.toContain('<script');
    expect(page).toMatch(/class="bad">.*UNREADABLE.*EACCES: permission denied/);
    expect(page).toContain('12 identified (3.0 MiB), 1 unidentified (1.0 KiB)');
    expect(page).toContain('file policy.yaml (document 1)');
    expect(page).toContain('#1 (full) at 2026-12-01T00:00:06.100Z: deleted 1 (2.0 KiB)');
    expect(page).toContain('checkpoint-web_shop-app-2026-11-30T00:00:00Z.tar');
    expect(page).toContain('Kubernetes API</th><td>not configured');
  });

  it('sends the first chunk of a view before the rest is produced', async () => {
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let produced = 0;
    archives = async function* () {
      produced += 1;
      yield '{"archives":[{"file":"first.tar"}';
      await gate;
      produced += 1;
      yield ']}';
    };
    // A server that buffered the whole view would answer only after this: the check below then fails at once rather than timing out.
    const safety = setTimeout(() => release(), 2_000);
    try {
      const res = await fetch(`${base}/api/v1/archives`);
      const reader = res.body!.getReader();
      const decoder = new TextDecoder();
      let received = '';
      while (!received.includes('first.tar')) {
        const { value, done } = await reader.read();
        if (done) break;
        received += decoder.decode(value, { stream: true });
      }
      // The client holds the first chunk while the view is still waiting to produce the second.
      expect(received).toBe('{"archives":[{"file":"first.tar"}');
      expect(produced).toBe(1);
      release();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        received += decoder.decode(value, { stream: true });
      }
      expect(JSON.parse(received)).toEqual({ archives: [{ file: 'first.tar' }] });
    } finally {
      clearTimeout(safety);
      release();
      archives = () => chunked('{"archives":[]}');
    }
  });

  it.each(['POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'PROPFIND'])('answers %s with 405', async (method) => {
    const res = await fetch(`${base}/metrics`, { method });
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toContain('GET');
  });

  it('answers HEAD like GET without a body', async () => {
    const res = await fetch(`${base}/healthz`, { method: 'HEAD' });
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('');
  });

  it('answers unknown paths with 404', async () => {
    expect((await fetch(`${base}/nope`)).status).toBe(404);
  });
});
