import { describe, expect, it } from '@jest/globals';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createRateLimiter, throttle } from '../../../src/offload/rate-limit.js';

/** The bandwidth limit is one budget for every copy at once: two streams share it, neither gets it twice. */
describe('rate limiter', () => {
  const drain = (): Writable => new Writable({ write: (_chunk, _encoding, callback) => callback() });
  const chunks = (count: number, bytes: number): Readable => Readable.from(Array.from({ length: count }, () => Buffer.alloc(bytes)));

  it('two streams of 1.5 MiB at 4 MiB/s together take at least 0.7 s', async () => {
    const limiter = createRateLimiter(4 * 1024 * 1024);
    const started = performance.now();
    await Promise.all([pipeline(chunks(6, 256 * 1024), throttle(limiter), drain()), pipeline(chunks(6, 256 * 1024), throttle(limiter), drain())]);
    // 3 MiB at 4 MiB/s is 750 ms; the limiter lets a chunk start up to 50 ms early.
    expect(performance.now() - started).toBeGreaterThanOrEqual(690);

  });

  it('schedules each chunk after the ones before it, by the clock it is given', async () => {
    const nowMs = 1000;
    const limiter = createRateLimiter(1000, () => nowMs);
    // 40 bytes at 1000 B/s are due 40 ms after the start, within the 50 ms allowance; the next 100 bytes
    // are due at 140 ms, 90 ms beyond it: that take waits on a timer for those 90 ms.
    await limiter.take(40);
    const started = performance.now();
    await limiter.take(100);
    expect(performance.now() - started).toBeGreaterThanOrEqual(85);
  });
});
