/**
 * Runs at most `concurrency` tasks at once, the rest in arrival order. Waiting tasks are kept as plain
 * functions in an array: 100,000 archives found at start are 100,000 array slots, not 100,000
 * pending closures over promises.
 */
export interface WorkQueue {
  /** Queues `task` and resolves with its result. */
  run<T>(task: () => Promise<T>): Promise<T>;
  /** Queues `task` without a promise for its result (its failure is the task's own to handle). */
  push(task: () => Promise<void>): void;
}

export function createWorkQueue(concurrency: number): WorkQueue {
  if (!Number.isInteger(concurrency) || concurrency < 1) throw new Error(`concurrency must be a positive integer, got ${concurrency}`);
  let running = 0;
  // A head index instead of Array#shift, which is O(n) per call and quadratic over a 10,000-task burst.
  let waiting: (() => Promise<void>)[] = [];
  let head = 0;
  const pump = (): void => {
    while (running < concurrency && head < waiting.length) {
      const task = waiting[head] as () => Promise<void>;
      head += 1;
      if (head === waiting.length) {
        waiting = [];
        head = 0;
      }
      running += 1;
      void task()
        .catch(() => undefined)
        .finally(() => {
          running -= 1;
          pump();
        });
    }
  };
  const push = (task: () => Promise<void>): void => {
    waiting.push(task);
    pump();
  };
  return {
    push,
    run<T>(task: () => Promise<T>): Promise<T> {
      return new Promise<T>((resolve, reject) => push(() => task().then(resolve, reject)));
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
