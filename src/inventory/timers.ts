/**
 * The inventory's only source of delay. Injected so tests drive settle checks, directory polls and
 * resyncs by advancing a manual clock instead of sleeping.
 */
export interface Timers {
  setTimeout(callback: () => void, delayMs: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
}

/** Opaque to the inventory: whatever the Timers implementation hands back. */
export type TimerHandle = { readonly timer: unknown };

export const systemTimers: Timers = {
  setTimeout(callback, delayMs) {
    return { timer: setTimeout(callback, delayMs) };
  },
  clearTimeout(handle) {
    clearTimeout(handle.timer as NodeJS.Timeout);
  },
};
