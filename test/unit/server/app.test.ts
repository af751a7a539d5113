import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { Gauge, Registry } from 'prom-client';
import { createServerApp } from '../../../src/server/app.js';
import { closeServer, listen, parseListenAddress } from '../../../src/server/listen.js';

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

describe('HTTP server', () => {
  let server: Server;
  let base: string;
  let ready = false;

  beforeAll(async () => {
    const registry = new Registry();
    new Gauge({ name: 'probe_value', help: 'A value for the test.', registers: [registry] }).set(42);
    const app = createServerApp({
      registry,
      version: '1.2.3',
      logger: pino({ level: 'silent' }),
      ready: () => ready,
      archives: () => ({ archives: [{ file: 'a.tar' }] }),
      policy: () => ({ effective: { global: { maxCheckpointsPerContainer: 10 } } }),
      plan: () => ({ deletions: [] }),
    });
    server = await listen(app, { host: '127.0.0.1', port: 0 });
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => closeServer(server));

  it('serves metrics in the Prometheus text format', async () => {
    const res = await fetch(`${base}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(await res.text()).toMatch(/^probe_value 42$/m);
  });

  it('answers readiness only once the initial scan is complete', async () => {
    ready = false;
    expect((await fetch(`${base}/readyz`)).status).toBe(503);
    ready = true;
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
  });

  it('serves the JSON APIs and a landing page with the version and links', async () => {
    expect(await (await fetch(`${base}/api/v1/archives`)).json()).toEqual({ archives: [{ file: 'a.tar' }] });
    expect(await (await fetch(`${base}/api/v1/policy`)).json()).toEqual({ effective: { global: { maxCheckpointsPerContainer: 10 } } });
    expect(await (await fetch(`${base}/api/v1/plan`)).json()).toEqual({ deletions: [] });
    const page = await (await fetch(`${base}/`)).text();
    expect(page).toContain('1.2.3');
    expect(page).toContain('href="/metrics"');
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
