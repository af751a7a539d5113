import { Transform, type TransformCallback } from 'node:stream';

/** How far ahead of its schedule a copy may run: smooths timer granularity without letting a burst through. */
const BURST_MS = 50;

export interface RateLimiter {
  /** Resolves when `bytes` more may pass. */
  take(bytes: number): Promise<void>;
}

/**
 * One budget in bytes per second for every copy at once (it is the node's link that must not be
 * saturated, not each copy's share): each chunk is scheduled after the ones before it.
 */
export function createRateLimiter(bytesPerSecond: number, now: () => number = () => performance.now()): RateLimiter {
  let nextFreeMs = 0;
  return {
    take(bytes) {
      if (!(bytesPerSecond > 0)) return Promise.resolve();
      const start = Math.max(nextFreeMs, now());
      nextFreeMs = start + (bytes / bytesPerSecond) * 1000;
      const waitMs = nextFreeMs - now() - BURST_MS;
      return waitMs > 0 ? new Promise((resolve) => setTimeout(resolve, waitMs)) : Promise.resolve();
    },
  };
}

export function throttle(limiter: RateLimiter): Transform {
  return new Transform({
    transform(chunk: Buffer, _encoding, callback: TransformCallback) {
      limiter.take(chunk.length).then(() => callback(null, chunk), callback);
    },
  });
}
