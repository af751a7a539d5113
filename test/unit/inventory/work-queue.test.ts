import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { createWorkQueue, forEachConcurrent } from '../../../src/inventory/work-queue.js';

describe('createWorkQueue', () => {
  it('never runs more than its concurrency and runs every task (property)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 5 }), fc.array(fc.nat({ max: 3 }), { maxLength: 25 }), async (concurrency, ticks) => {
        const queue = createWorkQueue(concurrency);
        let running = 0;
        let peak = 0;
        const results = await Promise.all(
          ticks.map((yields, i) =>
            queue.run(async () => {
              running += 1;
              peak = Math.max(peak, running);
              for (let n = 0; n < yields; n += 1) await Promise.resolve();
              running -= 1;
              return i;
            }),
          ),
        );
        expect(results).toEqual(ticks.map((_, i) => i));
        expect(peak).toBeLessThanOrEqual(concurrency);
      }),
    );
  });

  it('keeps going after a task fails', async () => {
    const queue = createWorkQueue(1);
    const failed = queue.run(async () => {
      throw new Error('boom');
    });
    await expect(failed).rejects.toThrow('boom');
    await expect(queue.run(async () => 'next')).resolves.toBe('next');
  });

  it.each([0, -1, 1.5])('refuses a concurrency of %p', (concurrency) => {
    expect(() => createWorkQueue(concurrency)).toThrow('positive integer');
  });

  it('forEachConcurrent visits every item', async () => {
    const seen: number[] = [];
    await forEachConcurrent([1, 2, 3, 4, 5], 2, async (n) => {
      await Promise.resolve();
      seen.push(n);
    });
    expect(seen.sort()).toEqual([1, 2, 3, 4, 5]);
  });
});
