import { describe, expect, it } from '@jest/globals';
import type { Stats } from 'node:fs';
import { lstat } from 'node:fs/promises';
import fc from 'fast-check';
import { fingerprintOf, sameFingerprint } from '../../../src/archive/fingerprint.js';

const statsOf = (values: { dev: number; ino: number; size: number; mtimeMs: number; ctimeMs: number; nlink: number }): Stats => values as unknown as Stats;

describe('fingerprintOf', () => {
  it('keeps every number exactly, small integers and values beyond 32 bits alike (property)', () => {
    const count = fc.oneof(fc.nat({ max: 2 ** 31 - 1 }), fc.maxSafeNat(), fc.constantFrom(2 ** 31, 2 ** 32, 2 ** 32 + 1, 2 ** 53 - 1));
    const time = fc.oneof(fc.double({ min: 0, max: 4e12, noNaN: true }), fc.nat());
    fc.assert(
      fc.property(fc.record({ dev: count, ino: count, size: count, mtimeMs: time, ctimeMs: time, nlink: count }), (values) => {
        const fingerprint = fingerprintOf(statsOf(values));
        expect(fingerprint).toEqual(values);
        expect(sameFingerprint(fingerprint, fingerprintOf(statsOf({ ...values })))).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  it('gives a real file its lstat', async () => {
    const stats = await lstat(new URL(import.meta.url));
    expect(fingerprintOf(stats)).toEqual({ dev: stats.dev, ino: stats.ino, size: stats.size, mtimeMs: stats.mtimeMs, ctimeMs: stats.ctimeMs, nlink: stats.nlink });
  });
});
