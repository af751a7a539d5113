/**
 * Every bound on work in flight: a queue of tasks for at most n at once (lstats, compressed reads), a
 * pump for jobs kept as data (identity reads of 100,000 archives found at start), a pool of workers
 * pulling from a list (a full scan), and a count of what is in flight so `idle()` can wait for it.
 * Below every layer: archive/ and inventory/ both import it, and it imports nothing.
 */

/**
 * First in, first out over a plain array and a head index: Array#shift is O(n) per call and quadratic
 * over a burst of 10,000, and an array slot per waiting job costs no closure.
 */
class Fifo<T> {
  private items: T[] = [];
  private head = 0;

  push(item: T): void {
    this.items.push(item);
  }

  /** The oldest item, or undefined when empty. */
  shift(): T | undefined {
    if (this.head === this.items.length) return undefined;
    const item = this.items[this.head] as T;
    this.head += 1;
    if (this.head === this.items.length) {
      this.items = [];
      this.head = 0;
    }
    return item;
  }
}

function checkConcurrency(concurrency: number): void {
  if (!Number.isInteger(concurrency) || concurrency < 1) throw new Error(`concurrency must be a positive integer, got ${concurrency}`);
}

/** Runs at most `concurrency` tasks at once, the rest in arrival order; a failed task frees its place. */
export interface WorkQueue {
  run<T>(task: () => Promise<T>): Promise<T>;
}

export function createWorkQueue(concurrency: number): WorkQueue {
  checkConcurrency(concurrency);
  let running = 0;
  const waiting = new Fifo<() => void>();
  const release = (): void => {
    const next = waiting.shift();
    if (next === undefined) running -= 1;
    else next();
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

/** Counts work in flight (queued or running) so `idle()` can wait for it. */
export interface InFlight {
  begin(): void;
  end(): void;
  /** begin() now, end() when `work` settles; a rejection goes to the error handler, never thrown. */
  track(work: Promise<void>): Promise<void>;
  /** Resolves once nothing is in flight (timers still armed do not count). */
  idle(): Promise<void>;
}

export function createInFlight(onError: (error: unknown) => void): InFlight {
  let count = 0;
  let waiters: (() => void)[] = [];
  const end = (): void => {
    count -= 1;
    if (count === 0) {
      const woken = waiters;
      waiters = [];
      for (const wake of woken) wake();
    }
  };
  return {
    begin() {
      count += 1;
    },
    end,
    track(work) {
      count += 1;
      return work.catch(onError).finally(end);
    },
    idle() {
      if (count === 0) return Promise.resolve();
      return new Promise((wake) => waiters.push(wake));
    },
  };
}

/**
 * Runs jobs first come first served, at most `concurrency` at once. A job is data in an array slot, not
 * a promise: 100,000 archives found at start are 100,000 slots, not 100,000 pending closures. Queued
 * jobs count as in flight; a failed job goes to the in-flight count's error handler.
 */
export function createFifoPump<T>(concurrency: number, run: (job: T) => Promise<void>, inFlight: InFlight): (job: T) => void {
  checkConcurrency(concurrency);
  const waiting = new Fifo<T>();
  let queued = 0;
  let active = 0;
  const pump = (): void => {
    while (active < concurrency && queued > 0) {
      const job = waiting.shift() as T;
      queued -= 1;
      active += 1;
      void inFlight
        .track(run(job))
        .finally(() => {
          active -= 1;
          inFlight.end();
          pump();
        });
    }
  };
  return (job) => {
    inFlight.begin();
    waiting.push(job);
    queued += 1;
    pump();
  };
}

/**
 * Calls `fn` on every item with at most `concurrency` calls in flight: that many workers pull from the
 * list, so no promise per item is made up front. Stops taking items once `proceed()` says no.
 */
export async function forEachConcurrent<T>(items: readonly T[], concurrency: number, fn: (item: T) => Promise<void>, proceed: () => boolean = () => true): Promise<void> {
  checkConcurrency(concurrency);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length && proceed()) await fn(items[next++] as T);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
}
