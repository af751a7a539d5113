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

const DAY_MS = 86_400_000;

/**
 * Where a test's clock stands against the files it writes. The inventory compares its clock with their
 * real ctimes (an archive untouched for the settle time is read at once, with no second look), so a
 * clock years behind them skipped that fast path without saying so. Here the choice is named:
 * a day behind the real time, every file the test writes, before or after advancing the clock, looks
 * just written, and the settle clock alone decides (the slow path), however slowly the machine runs.
 * The tests of the fast path and of the boundary start the clock from a file's ctime instead.
 */
export function clockBehindFiles(): number {
  return Date.now() - DAY_MS;
}

export function createManualClock(startMs: number): ManualClock {
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
