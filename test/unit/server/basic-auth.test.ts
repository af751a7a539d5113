import { describe, expect, it } from '@jest/globals';
import bcrypt from 'bcryptjs';
import { basicCredentials, createPasswordVerifier, MAX_WAITING_CHECKS, type BasicAuthResult } from '../../../src/server/basic-auth.js';

const HASH = bcrypt.hashSync('right', 4);

/** A compare whose answers the test releases one by one, recording what it was asked. */
function heldCompare(): { compare: (password: string, hash: string) => Promise<boolean>; asked: Array<{ password: string; hash: string }>; releaseAll(): void } {
  const asked: Array<{ password: string; hash: string }> = [];
  const pending: Array<() => void> = [];
  return {
    asked,
    compare: (password, hash) =>
      new Promise((resolve) => {
        asked.push({ password, hash });
        pending.push(() => resolve(password === 'right'));
      }),
    releaseAll: () => {
      while (pending.length > 0) pending.shift()?.();
    },
  };
}

describe('basicCredentials', () => {
  it.each([
    ['Basic ' + Buffer.from('alice:s3cret').toString('base64'), { user: 'alice', password: 's3cret' }],
    ['basic ' + Buffer.from('alice:with:colons').toString('base64'), { user: 'alice', password: 'with:colons' }],
    ['Basic ' + Buffer.from('alice:').toString('base64'), { user: 'alice', password: '' }],
    ['Basic ' + Buffer.from('ünï:côdé').toString('base64'), { user: 'ünï', password: 'côdé' }],
  ])('%s', (header, expected) => {
    expect(basicCredentials(header)).toEqual(expected);
  });
  it.each([
    ['no header', undefined],
    ['an empty header', ''],
    ['a bearer token', 'Bearer abc'],
    ['Basic alone', 'Basic'],
    ['not base-64', 'Basic !!!'],
    ['no colon', 'Basic ' + Buffer.from('no-colon').toString('base64')],
    ['an empty user', 'Basic ' + Buffer.from(':password').toString('base64')],
    ['a header of 5,000 characters', `Basic ${'A'.repeat(5000)}`],
  ])('refuses %s', (_name, header) => {
    expect(basicCredentials(header)).toBeUndefined();
  });
});

describe('createPasswordVerifier', () => {
  it('checks real bcrypt hashes', async () => {
    const verifier = createPasswordVerifier();
    expect(await verifier.verify('alice', 'right', HASH)).toBe('allowed');
    expect(await verifier.verify('alice', 'wrong', HASH)).toBe('unauthenticated');
  });

  it('caches an outcome per user, hash and password until it expires', async () => {
    let now = 1_000;
    let calls = 0;
    const verifier = createPasswordVerifier({ now: () => now, ttlMs: 60_000, compare: async (password) => (calls++, password === 'right') });
    expect(await verifier.verify('alice', 'right', HASH)).toBe('allowed');
    expect(await verifier.verify('alice', 'right', HASH)).toBe('allowed');
    expect(calls).toBe(1);
    expect(await verifier.verify('alice', 'wrong', HASH)).toBe('unauthenticated');
    expect(await verifier.verify('alice', 'wrong', HASH)).toBe('unauthenticated');
    expect(calls).toBe(2);
    // A new hash for the user (a reloaded file) is a new check.
    expect(await verifier.verify('alice', 'right', '$2b$04$another')).toBe('allowed');
    expect(calls).toBe(3);
    now += 60_001;
    expect(await verifier.verify('alice', 'right', HASH)).toBe('allowed');
    expect(calls).toBe(4);
  });

  it('keeps at most maxEntries outcomes, dropping the oldest', async () => {
    let calls = 0;
    const verifier = createPasswordVerifier({ maxEntries: 2, compare: async () => (calls++, true) });
    for (const password of ['a', 'b', 'c']) await verifier.verify('alice', password, HASH);
    expect(calls).toBe(3);
    await verifier.verify('alice', 'c', HASH);
    await verifier.verify('alice', 'b', HASH);
    expect(calls).toBe(3);
    await verifier.verify('alice', 'a', HASH);
    expect(calls).toBe(4);
  });

  it('checks an unknown user against a stand-in hash, so it costs what a wrong password does, and never lets it in', async () => {
    const held = heldCompare();
    const verifier = createPasswordVerifier({ compare: held.compare, restRatio: 0 });
    const result = verifier.verify('mallory', 'right', undefined);
    await new Promise((resolve) => setImmediate(resolve));
    expect(held.asked).toHaveLength(1);
    expect(held.asked[0]?.hash).toMatch(/^\$2b\$10\$/);
    held.releaseAll();
    expect(await result).toBe('unauthenticated');
  });

  it('runs one check at a time, lets a few wait and answers the rest throttled without hashing', async () => {
    const held = heldCompare();
    // No rest between checks here: the rest has a test of its own.
    const verifier = createPasswordVerifier({ compare: held.compare, restRatio: 0 });
    const results: Array<Promise<BasicAuthResult>> = [];
    for (let i = 0; i < 1 + MAX_WAITING_CHECKS + 3; i += 1) results.push(verifier.verify('alice', `wrong-${i}`, HASH));
    await new Promise((resolve) => setImmediate(resolve));
    expect(held.asked).toHaveLength(1);
    const throttled = await Promise.all(results.slice(1 + MAX_WAITING_CHECKS));
    expect(throttled).toEqual(['throttled', 'throttled', 'throttled']);
    // Each release lets exactly the next waiting check run.
    for (let i = 2; i <= 1 + MAX_WAITING_CHECKS; i += 1) {
      held.releaseAll();
      await new Promise((resolve) => setImmediate(resolve));
      expect(held.asked).toHaveLength(i);
    }
    held.releaseAll();
    expect(await Promise.all(results.slice(0, 1 + MAX_WAITING_CHECKS))).toEqual(Array(1 + MAX_WAITING_CHECKS).fill('unauthenticated'));
    expect(verifier.checks()).toBe(1 + MAX_WAITING_CHECKS);
    // Once the queue drained, a check runs at once again; a cached success needs no turn at all.
    const next = verifier.verify('alice', 'right', HASH);
    await new Promise((resolve) => setImmediate(resolve));
    held.releaseAll();
    expect(await next).toBe('allowed');
  });

  it('rests after each check as long as it took, so bcrypt holds at most half a core', async () => {
    const spans: Array<{ start: number; end: number }> = [];
    const compare = async (): Promise<boolean> => {
      const start = performance.now();
      await new Promise((resolve) => setTimeout(resolve, 40));
      spans.push({ start, end: performance.now() });
      return false;
    };
    const verifier = createPasswordVerifier({ compare });
    await Promise.all([verifier.verify('a', '1', HASH), verifier.verify('a', '2', HASH), verifier.verify('a', '3', HASH)]);
    expect(spans).toHaveLength(3);
    for (let i = 1; i < spans.length; i += 1) {
      const [previous, current] = [spans[i - 1], spans[i]];
      if (previous === undefined || current === undefined) throw new Error('missing span');
      // The rest is measured around the compare, so it is at least the compare's own span (less rounding).
      expect(current.start - previous.end).toBeGreaterThanOrEqual(previous.end - previous.start - 2);
    }
  });
});
