import { describe, expect, it } from '@jest/globals';
import type { V1SubjectAccessReview, V1TokenReview } from '@kubernetes/client-node';
import { createAccessReviewer, type ReviewApis } from '../../../src/kubernetes/access-review.js';

/** Review APIs answering from tables, counting calls; `down` makes every call fail as a network error would. */
function tableApis(users: Record<string, string>, allowed: Record<string, string[]>) {
  const calls = { token: 0, access: 0 };
  const state = { down: false };
  const apis: ReviewApis = {
    authentication: {
      createTokenReview: (async (param: { body: V1TokenReview }) => {
        calls.token += 1;
        if (state.down) throw Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
        const username = users[param.body.spec.token ?? ''];
        return { spec: param.body.spec, status: username ? { authenticated: true, user: { username } } : { authenticated: false, error: 'invalid bearer token' } };
      }) as unknown as ReviewApis['authentication']['createTokenReview'],
    },
    authorization: {
      createSubjectAccessReview: (async (param: { body: V1SubjectAccessReview }) => {
        calls.access += 1;
        if (state.down) throw Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
        const spec = param.body.spec;
        const allow = (allowed[spec.user ?? ''] ?? []).includes(spec.nonResourceAttributes?.path ?? '');
        return { spec, status: { allowed: allow } };
      }) as unknown as ReviewApis['authorization']['createSubjectAccessReview'],
    },
  };
  return { apis, calls, state };
}

function setup(options: { maxEntries?: number } = {}) {
  let clock = 1_000_000;
  const table = tableApis({ 'token-a': 'alice', 'token-b': 'bob' }, { alice: ['/metrics'] });
  const reviewer = createAccessReviewer({
    apis: table.apis,
    now: () => clock,
    authenticatedTtlMs: 120_000,
    unauthenticatedTtlMs: 30_000,
    decisionTtlMs: 60_000,
    ...(options.maxEntries !== undefined ? { maxEntries: options.maxEntries } : {}),
  });
  return { reviewer, ...table, advance: (ms: number) => (clock += ms) };
}

describe('createAccessReviewer', () => {
  it.each([
    ['an allowed path', 'token-a', '/metrics', { kind: 'allowed', user: 'alice' }],
    ['a path the user may not get', 'token-a', '/api/v1/archives', { kind: 'forbidden', user: 'alice' }],
    ['a user with no rule', 'token-b', '/metrics', { kind: 'forbidden', user: 'bob' }],
    ['an unknown token', 'token-x', '/metrics', { kind: 'unauthenticated', reason: 'invalid bearer token' }],
  ])('decides %s', async (_name, token, path, want) => {
    const { reviewer } = setup();
    expect(await reviewer.authorize(token, path)).toMatchObject(want);
  });

  it('reuses an allow for its TTL, then asks again; the token review lasts longer than the decision', async () => {
    const { reviewer, calls, advance } = setup();
    await reviewer.authorize('token-a', '/metrics');
    advance(59_999);
    await reviewer.authorize('token-a', '/metrics');
    expect(calls).toEqual({ token: 1, access: 1 });
    advance(1);
    await reviewer.authorize('token-a', '/metrics');
    expect(calls).toEqual({ token: 1, access: 2 });
    advance(60_000);
    await reviewer.authorize('token-a', '/metrics');
    expect(calls).toEqual({ token: 2, access: 3 });
  });

  it('caches a deny and an unknown token too, so neither turns every request into a review', async () => {
    const { reviewer, calls, advance } = setup();
    for (let i = 0; i < 3; i += 1) {
      await reviewer.authorize('token-b', '/metrics');
      await reviewer.authorize('token-x', '/metrics');
    }
    expect(calls).toEqual({ token: 2, access: 1 });
    advance(30_000);
    await reviewer.authorize('token-x', '/metrics');
    expect(calls.token).toBe(3);
  });

  it('shares one review among concurrent requests with the same token and path', async () => {
    const { reviewer, calls } = setup();
    const answers = await Promise.all(Array.from({ length: 20 }, () => reviewer.authorize('token-a', '/metrics')));
    expect(new Set(answers.map((a) => a.kind))).toEqual(new Set(['allowed']));
    expect(calls).toEqual({ token: 1, access: 1 });
  });

  it('answers unavailable while the API is down, caches nothing of it, and recovers at once', async () => {
    const { reviewer, calls, state } = setup();
    state.down = true;
    expect(await reviewer.authorize('token-a', '/metrics')).toMatchObject({ kind: 'unavailable', review: 'TokenReview', reason: 'ECONNREFUSED: connect ECONNREFUSED' });
    expect(await reviewer.authorize('token-a', '/metrics')).toMatchObject({ kind: 'unavailable' });
    expect(calls.token).toBe(2);
    state.down = false;
    expect(await reviewer.authorize('token-a', '/metrics')).toMatchObject({ kind: 'allowed' });
  });

  it('answers unavailable when only the SubjectAccessReview fails, naming it', async () => {
    const { reviewer, state, calls } = setup();
    await reviewer.authorize('token-a', '/other');
    state.down = true;
    // The token is cached; the decision for a new path needs the API.
    expect(await reviewer.authorize('token-a', '/metrics')).toMatchObject({ kind: 'unavailable', review: 'SubjectAccessReview' });
    expect(calls.token).toBe(1);
  });

  it('holds at most maxEntries answers of each kind, whatever tokens and paths clients send', async () => {
    const { reviewer } = setup({ maxEntries: 8 });
    for (let i = 0; i < 100; i += 1) await reviewer.authorize('token-a', `/path-${i}`);
    for (let i = 0; i < 100; i += 1) await reviewer.authorize(`unknown-${i}`, '/metrics');
    expect(reviewer.size()).toBeLessThanOrEqual(16);
  });

  it('throttles requests that need a review beyond maxInFlight waiting, and keeps serving cached answers', async () => {
    const release: Array<() => void> = [];
    let calls = 0;
    const hanging: ReviewApis = {
      authentication: {
        createTokenReview: (async (param: { body: V1TokenReview }) => {
          calls += 1;
          await new Promise<void>((resolve) => release.push(resolve));
          return { spec: param.body.spec, status: { authenticated: true, user: { username: param.body.spec.token ?? '' } } };
        }) as unknown as ReviewApis['authentication']['createTokenReview'],
      },
      authorization: {
        createSubjectAccessReview: (async (param: { body: V1SubjectAccessReview }) => ({ spec: param.body.spec, status: { allowed: true } })) as unknown as ReviewApis['authorization']['createSubjectAccessReview'],
      },
    };
    const reviewer = createAccessReviewer({ apis: hanging, now: () => 0, maxInFlight: 2 });
    const first = reviewer.authorize('token-1', '/metrics');
    const second = reviewer.authorize('token-2', '/metrics');
    expect(await reviewer.authorize('token-3', '/metrics')).toMatchObject({ kind: 'throttled' });
    // The same token and path as one waiting shares it instead of being throttled.
    const shared = reviewer.authorize('token-1', '/metrics');
    expect(calls).toBe(2);
    for (const resolve of release.splice(0)) resolve();
    expect(await first).toMatchObject({ kind: 'allowed', user: 'token-1' });
    expect(await shared).toMatchObject({ kind: 'allowed', user: 'token-1' });
    expect(await second).toMatchObject({ kind: 'allowed' });
    const third = reviewer.authorize('token-3', '/metrics');
    for (const resolve of release.splice(0)) resolve();
    expect(await third).toMatchObject({ kind: 'allowed', user: 'token-3' });
  });
});
