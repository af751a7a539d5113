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
