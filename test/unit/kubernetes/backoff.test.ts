import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { backoffDelayMs, realDelay } from '../../../src/kubernetes/backoff.js';

describe('backoffDelayMs', () => {
  it.each([
    [0, 1_000],
    [1, 2_000],
    [5, 32_000],
    [6, 60_000],
    [1_000, 60_000],
    [-3, 1_000],
  ])('attempt %i waits %i ms with a 1 s start and 60 s cap', (attempt, expected) => {
    expect(backoffDelayMs(attempt, { initialMs: 1_000, maxMs: 60_000 })).toBe(expected);
  });

  it('never decreases and never exceeds the cap (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 10_000 }), fc.integer({ min: 1, max: 10_000_000 }), fc.nat(200), (initialMs, maxMs, attempt) => {
        const options = { initialMs, maxMs };
        const now = backoffDelayMs(attempt, options);
        expect(now).toBeLessThanOrEqual(Math.max(maxMs, 0));
        expect(backoffDelayMs(attempt + 1, options)).toBeGreaterThanOrEqual(now);
        expect(Number.isFinite(now)).toBe(true);
      }),
    );
  });
});

describe('realDelay', () => {
  it('returns at once when the signal aborts', async () => {
    const controller = new AbortController();
    const waiting = realDelay(3_600_000, controller.signal);
    controller.abort();
    await expect(waiting).resolves.toBeUndefined();
  });

  it('returns at once for an already aborted signal', async () => {
    await expect(realDelay(3_600_000, AbortSignal.abort())).resolves.toBeUndefined();
  });
});
