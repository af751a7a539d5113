import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import Koa from 'koa';
import { bearerToken, createAuthGuard, OPEN_PATHS, UNAVAILABLE_LOG_INTERVAL_MS, type AccessDecision, type AuthResult } from '../../../src/server/auth.js';
import { closeServer, listen } from '../../../src/server/listen.js';
import { createCapturingLogger } from '../inventory/fixtures.js';

describe('bearerToken', () => {
  it.each([
    ['Bearer abc.def-ghi', 'abc.def-ghi'],
    ['bearer abc', 'abc'],
    ['BEARER  abc ', 'abc'],
  ])('reads %j', (header, want) => {
    expect(bearerToken(header)).toBe(want);
  });
  it.each([undefined, '', 'Bearer', 'Bearer ', 'Basic dXNlcjpwYXNz', 'Bearer a b', `Bearer ${'x'.repeat(16 * 1024 + 1)}`])('finds no token in %j', (header) => {
    expect(bearerToken(header)).toBeUndefined();
  });
  it('returns a token without whitespace, taken from the header, or nothing, for any header', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), (header) => {
        const token = bearerToken(header);
        if (token === undefined) return;
        expect(token).not.toMatch(/\s/);
        expect(token.length).toBeGreaterThan(0);
        expect(header).toContain(token);
      }),
      { numRuns: process.env['CI'] === 'true' ? 1000 : 200 },
    );
  });
});

describe('createAuthGuard', () => {
  let server: Server;
  let base: string;
  const results: AuthResult[] = [];
  const asked: Array<[string, string]> = [];
  const logged = createCapturingLogger();
  const decisions: Record<string, AccessDecision> = {
    good: { kind: 'allowed', user: 'alice' },
    denied: { kind: 'forbidden', user: 'bob', reason: 'no rule' },
    unknown: { kind: 'unauthenticated', reason: 'invalid bearer token' },
    down: { kind: 'unavailable', review: 'TokenReview', reason: 'ECONNREFUSED' },
    busy: { kind: 'throttled', reason: '16 reviews already waiting on the API server' },
  };
  let clock = 0;

  beforeAll(async () => {
    const app = new Koa();
    app.use(
      createAuthGuard({
        authorize: async (token, path) => {
          asked.push([token, path]);
          if (token === 'throws') throw new Error('bug in the authorizer');
          return decisions[token] ?? decisions['unknown']!;
        },
        logger: logged.logger,
        openPaths: OPEN_PATHS,
        onResult: (result) => results.push(result),
        now: () => clock,
      }),
    );
    app.use((ctx) => {
      ctx.body = `reached ${ctx.path}\n`;
    });
    server = await listen(app, { host: '127.0.0.1', port: 0 });
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => closeServer(server));

  const request = async (path: string, token?: string): Promise<{ status: number; body: string }> => {
    const response = await fetch(`${base}${path}`, token === undefined ? {} : { headers: { Authorization: `Bearer ${token}` } });
    return { status: response.status, body: await response.text() };
  };

  it.each([
    ['no token', '/metrics', undefined, 401, 'no_token'],
    ['an unknown token', '/metrics', 'unknown', 401, 'unauthenticated'],
    ['a denied user', '/api/v1/plan', 'denied', 403, 'forbidden'],
    ['an allowed user', '/metrics', 'good', 200, 'allowed'],
    ['an API that cannot be asked', '/metrics', 'down', 503, 'error'],
    ['an authorizer that throws', '/metrics', 'throws', 503, 'error'],
    ['too many reviews waiting', '/metrics', 'busy', 429, 'throttled'],
  ] as const)('answers %s on %s', async (_name, path, token, status, result) => {
    results.length = 0;
    const answer = await request(path, token);
    expect(answer.status).toBe(status);
    expect(results).toEqual([result]);
    if (status === 200) expect(answer.body).toBe(`reached ${path}\n`);
    else expect(answer.body).not.toContain('reached');
  });

  it('asks about the request path, and lets the probes through without asking', async () => {
    asked.length = 0;
    expect(await request('/healthz')).toEqual({ status: 200, body: 'reached /healthz\n' });
    expect(await request('/readyz')).toEqual({ status: 200, body: 'reached /readyz\n' });
    expect(asked).toEqual([]);
    await request('/api/v1/archives?x=1', 'good');
    expect(asked).toEqual([['good', '/api/v1/archives']]);
  });

  it('logs one line without the token when access cannot be checked, at most one per interval, then how many were left out', async () => {
    clock += UNAVAILABLE_LOG_INTERVAL_MS;
    const before = logged.lines.length;
    for (let i = 0; i < 3; i += 1) expect((await request('/metrics', 'down')).status).toBe(503);
    const lines = logged.lines.slice(before);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ review: 'TokenReview', reason: 'ECONNREFUSED', path: '/metrics' });
    expect(JSON.stringify(lines[0])).not.toContain('"down"');
    clock += UNAVAILABLE_LOG_INTERVAL_MS;
    await request('/api/v1/plan', 'down');
    expect(logged.lines.slice(before)).toHaveLength(2);
    expect(logged.lines.at(-1)).toMatchObject({ path: '/api/v1/plan', notLoggedSinceLast: 2 });
  });

  it('asks a throttled client to come back in a second', async () => {
    const response = await fetch(`${base}/metrics`, { headers: { Authorization: 'Bearer busy' } });
    expect(response.status).toBe(429);
    expect(response.headers.get('retry-after')).toBe('1');
  });
});
