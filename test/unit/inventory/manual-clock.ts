import type { TimerHandle, Timers } from '../../../src/inventory/timers.js';

/** A clock that moves only when told to, firing due timers in order: tests advance time instead of sleeping. */
export interface ManualClock {
  readonly timers: Timers;
  now(): number;
  advance(ms: number): void;
  /** Timers still armed. */
  armed(): number;
}

interface Armed {
  readonly handle: TimerHandle;
  readonly dueMs: number;
  readonly seq: number;
  readonly callback: () => void;
}

export function createManualClock(startMs = 1_700_000_000_000): ManualClock {
  let nowMs = startMs;
  let seq = 0;
  let armed: Armed[] = [];
  const timers: Timers = {
    setTimeout(callback, delayMs) {
      const handle: TimerHandle = { timer: Symbol('timer') };
      armed.push({ handle, dueMs: nowMs + Math.max(0, delayMs), seq: seq++, callback });
      return handle;
    },
    clearTimeout(handle) {
      armed = armed.filter((timer) => timer.handle !== handle);
    },
  };
  return {
    timers,
    now: () => nowMs,
    advance(ms) {
      const target = nowMs + ms;
      for (;;) {
        const due = armed.filter((timer) => timer.dueMs <= target).sort((a, b) => a.dueMs - b.dueMs || a.seq - b.seq)[0];
        if (due === undefined) break;
        armed = armed.filter((timer) => timer !== due);
        nowMs = Math.max(nowMs, due.dueMs);
        due.callback();
      }
      nowMs = target;
    },
    armed: () => armed.length,
  };
}
