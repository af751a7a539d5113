import type { Logger } from 'pino';
import type { ChangeSet } from './inventory-model.js';
import type { InventoryChange } from './types.js';

export interface ChangeFeed {
  /** Something changed: notify once, after this event-loop turn, with everything changed until then. */
  changed(everything?: boolean): void;
  subscribe(listener: (change: InventoryChange) => void): () => void;
  /** Drops a pending notification (the inventory stopped). */
  cancel(): void;
  /** Notifications delivered so far. */
  batches(): number;
}

/**
 * Turns entry changes into one notification per batch: every change made in one event-loop turn
 * (a burst of lstats landing, a scan) reaches listeners as one InventoryChange.
 */
export function createChangeFeed(takeChanges: () => ChangeSet, logger: Logger): ChangeFeed {
  const listeners = new Set<(change: InventoryChange) => void>();
  let everythingChanged = false;
  let scheduled: NodeJS.Immediate | undefined;
  let batches = 0;

  const flush = (): void => {
    scheduled = undefined;
    const { containers, any } = takeChanges();
    const everything = everythingChanged;
    everythingChanged = false;
    if (!any && !everything && containers.size === 0) return;
    batches += 1;
    const change: InventoryChange = { containers, everything };
    for (const listener of listeners) {
      try {
        listener(change);
      } catch (error) {
        logger.error({ err: error }, 'inventory change listener threw');
      }
    }
  };

  return {
    changed(everything = false) {
      if (everything) everythingChanged = true;
      if (scheduled !== undefined || listeners.size === 0) return;
      scheduled = setImmediate(flush);
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    cancel() {
      if (scheduled !== undefined) clearImmediate(scheduled);
      scheduled = undefined;
    },
    batches: () => batches,
  };
}
