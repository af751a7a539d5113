/** Runs at most `concurrency` tasks at once, the rest in arrival order. */
export interface WorkQueue {
  run<T>(task: () => Promise<T>): Promise<T>;
}

export function createWorkQueue(concurrency: number): WorkQueue {
  if (!Number.isInteger(concurrency) || concurrency < 1) throw new Error(`concurrency must be a positive integer, got ${concurrency}`);
  let running = 0;
  // A head index instead of Array#shift, which is O(n) per call and quadratic over a 10,000-task burst.
  let waiting: (() => void)[] = [];
  let head = 0;
  const release = (): void => {
    running -= 1;
    const next = waiting[head];
    if (next === undefined) return;
    head += 1;
    if (head === waiting.length) {
      waiting = [];
      head = 0;
    }
    running += 1;
    next();
  };
  return {
    async run<T>(task: () => Promise<T>): Promise<T> {
      if (running < concurrency) running += 1;
      else await new Promise<void>((resolve) => waiting.push(resolve));
      try {
        return await task();
      } finally {
        release();
      }
    },
  };
}

/** Calls `fn` on every item with at most `concurrency` calls in flight. */
export async function forEachConcurrent<T>(items: Iterable<T>, concurrency: number, fn: (item: T) => Promise<void>): Promise<void> {
  const queue = createWorkQueue(concurrency);
  const all: Promise<void>[] = [];
  for (const item of items) all.push(queue.run(() => fn(item)));
  await Promise.all(all);
}
