import type { Logger } from 'pino';

/** Counts work in flight (lstats, scans, identity reads, queued or running) so `idle()` can wait for it. */
export interface InFlight {
  begin(): void;
  end(): void;
  /** begin() now, end() when `work` settles; a rejection is logged, never thrown. */
  track(work: Promise<void>): Promise<void>;
  /** Resolves once nothing is in flight (timers still armed do not count). */
  idle(): Promise<void>;
}

export function createInFlight(logger: Logger): InFlight {
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
      return work.catch((error: unknown) => logger.error({ err: error }, 'inventory task failed')).finally(end);
    },
    idle() {
      if (count === 0) return Promise.resolve();
      return new Promise((wake) => waiters.push(wake));
    },
  };
}

/**
 * Runs jobs first come first served, at most `concurrency` at once. A plain array, not a promise per
 * job: 100,000 archives found at start are 100,000 array slots, not 100,000 pending closures. Queued
 * jobs count as in flight.
 */
export function createFifoPump<T>(concurrency: number, run: (job: T) => Promise<void>, inFlight: InFlight, logger: Logger): (job: T) => void {
  let waiting: T[] = [];
  let head = 0;
  let active = 0;
  const pump = (): void => {
    while (active < concurrency && head < waiting.length) {
      const job = waiting[head] as T;
      head += 1;
      if (head === waiting.length) {
        waiting = [];
        head = 0;
      }
      active += 1;
      void run(job)
        .catch((error: unknown) => logger.error({ err: error }, 'inventory task failed'))
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
    pump();
  };
}
