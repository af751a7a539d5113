export interface BackoffOptions {
  readonly initialMs: number;
  readonly maxMs: number;
}

/** Start near a second so a blip recovers quickly; cap at a minute so an outage costs one request a minute. */
export const DEFAULT_BACKOFF: BackoffOptions = { initialMs: 1_000, maxMs: 60_000 };

/** Delay before retry number `attempt` (0-based): initial·2^attempt, capped. */
export function backoffDelayMs(attempt: number, options: BackoffOptions): number {
  const safeAttempt = Math.max(0, Math.floor(attempt));
  // 2^31 already exceeds any sensible cap; stop growing there so the number stays finite.
  const factor = 2 ** Math.min(safeAttempt, 31);
  return Math.min(options.maxMs, options.initialMs * factor);
}

/** Waits `ms`, or less when `signal` aborts first. Never rejects. */
export type DelayFn = (ms: number, signal: AbortSignal) => Promise<void>;

export const realDelay: DelayFn = (ms, signal) =>
  new Promise<void>((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
