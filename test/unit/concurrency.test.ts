import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { createFifoPump, createInFlight, createWorkQueue, forEachConcurrent } from '../../src/concurrency.js';

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

  it('runs one task at a time, in arrival order, and releases on failure', async () => {
    const gate = createWorkQueue(1);
    let running = 0;
    let most = 0;
    const order: number[] = [];
    const task = (id: number, fail = false) =>
      gate.run(async () => {
        running += 1;
        most = Math.max(most, running);
        await new Promise((wake) => setTimeout(wake, 5));
        order.push(id);
        running -= 1;
        if (fail) throw new Error(`task ${id}`);
        return id;
      });
    const results = await Promise.allSettled([task(1), task(2, true), task(3), task(4)]);
    expect(most).toBe(1);
    expect(order).toEqual([1, 2, 3, 4]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled', 'fulfilled']);
  });
});

describe('createFifoPump', () => {
  it('runs jobs in arrival order, at most its concurrency at once, counted in flight until done', async () => {
    const errors: unknown[] = [];
    const inFlight = createInFlight((error) => errors.push(error));
    let running = 0;
    let peak = 0;
    const started: number[] = [];
    const push = createFifoPump<number>(
      2,
      async (job) => {
        started.push(job);
        running += 1;
        peak = Math.max(peak, running);
        await new Promise((wake) => setTimeout(wake, 2));
        running -= 1;
        if (job === 3) throw new Error('job 3');
      },
      inFlight,
    );
    for (let job = 1; job <= 7; job += 1) push(job);
    await inFlight.idle();
    expect(started).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(peak).toBe(2);
    expect(errors).toEqual([new Error('job 3')]);
  });
});

describe('forEachConcurrent', () => {
  it('visits every item with at most its concurrency in flight', async () => {
    const seen: number[] = [];
    let running = 0;
    let peak = 0;
    await forEachConcurrent([1, 2, 3, 4, 5], 2, async (n) => {
      running += 1;
      peak = Math.max(peak, running);
      await Promise.resolve();
      seen.push(n);
      running -= 1;
    });
    expect(seen.sort()).toEqual([1, 2, 3, 4, 5]);
    expect(peak).toBe(2);
  });

  it('takes no more items once told to stop', async () => {
    const seen: number[] = [];
    await forEachConcurrent([1, 2, 3, 4, 5], 1, async (n) => {
      seen.push(n);
    }, () => seen.length < 3);
    expect(seen).toEqual([1, 2, 3]);
  });
});
