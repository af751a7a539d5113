import type { WorkQueue } from '../concurrency.js';
import { createArchiveIdentifier, type ArchiveIdentifierDeps } from './archive-identifier.js';
import { classifyEntry, type ArchiveNaming } from './classify-entry.js';
import type { AttachmentToken } from './directory-attachment.js';
import { entryPath, lstatEntry } from './directory-io.js';
import { observeEntry } from './entry-state.js';
import type { TimerHandle } from './timers.js';
import type { ScanOperation } from './types.js';

/**
 * Looks at one entry at a time: lstat it, fold what is found into its state (entry-state.ts), and do
 * what the transition asks: look again once it may have settled, or have its identity read (the
 * archive identifier). Every lstat carries the attachment token it started under and is dropped if the
 * directory was detached meanwhile.
 */
export interface EntryObserver {
  /** lstat one entry and fold the result in; calls for the same name are serialized so lstats cannot land out of order. */
  observe(fileName: string): Promise<void>;
  /** Disarms the settle and retry timers (detach, stop). */
  clearTimers(): void;
}

export interface EntryObserverDeps extends Omit<ArchiveIdentifierDeps, 'observe'> {
  readonly settleTimeMs: number;
  readonly now: () => number;
  /** Bounds lstats in flight, shared with the scanner's. */
  readonly lstatQueue: WorkQueue;
  readonly scanErrors: Record<ScanOperation, number>;
  /** Archive and pin names (default: container archives'). */
  readonly naming?: ArchiveNaming | undefined;
}

interface ArmedTimer {
  readonly handle: TimerHandle;
  readonly dueMs: number;
}

export function createEntryObserver(deps: EntryObserverDeps): EntryObserver {
  const { directory, attachment, model, logger, timers, now, settleTimeMs } = deps;
  const observing = new Map<string, Promise<void>>();
  const observeAgain = new Set<string>();
  let settleTimer: ArmedTimer | undefined;
  const identifier = createArchiveIdentifier({ ...deps, observe: (fileName) => observe(fileName) });

  function observe(fileName: string): Promise<void> {
    const running = observing.get(fileName);
    if (running !== undefined) {
      observeAgain.add(fileName);
      return running;
    }
    const run = deps.inFlight.track(observeLoop(fileName, attachment.token()));
    observing.set(fileName, run);
    return run;
  }

  async function observeLoop(fileName: string, startedUnder: AttachmentToken): Promise<void> {
    let token = startedUnder;
    try {
      do {
        observeAgain.delete(fileName);
        const outcome = await deps.lstatQueue.run(() => lstatEntry(entryPath(directory, fileName)));
        if (!token.current()) {
          // The directory was detached meanwhile: this lstat belongs to the old one and is dropped. A caller
          // that asked again since (a reattached directory's scan waits on this very loop) still gets an
          // lstat of its own, under the attachment in force; otherwise the entry would stay unseen until
          // its next event or resync.
          if (!observeAgain.has(fileName) || attachment.phase() !== 'watching') return;
          token = attachment.token();
          continue;
        }
        if (outcome.kind === 'failed') {
          deps.scanErrors.lstat += 1;
          logger.warn({ fileName, reason: outcome.message }, 'cannot lstat checkpoint directory entry; keeping what was known');
        } else {
          apply(fileName, classifyEntry(fileName, outcome.kind === 'found' ? outcome.stats : undefined, deps.naming));
        }
      } while (observeAgain.has(fileName));
    } finally {
      // Synchronous with the last check above, so a request arriving now starts a fresh loop.
      observing.delete(fileName);
    }
  }

  function apply(fileName: string, observation: ReturnType<typeof classifyEntry>): void {
    const previous = model.get(fileName);
    const transition = observeEntry(previous, observation, now(), settleTimeMs);
    if (transition.next !== previous) {
      identifier.cancelRetry(fileName);
      deps.commit(fileName, transition.next);
    }
    if (transition.recheckAtMs !== undefined) armSettleCheck(transition.recheckAtMs);
    if (transition.identify && transition.next !== undefined) identifier.start(fileName, transition.next);
  }

  function armSettleCheck(dueMs: number): void {
    if (attachment.phase() !== 'watching') return;
    if (settleTimer !== undefined && settleTimer.dueMs <= dueMs) return;
    if (settleTimer !== undefined) timers.clearTimeout(settleTimer.handle);
    const handle = timers.setTimeout(runSettleCheck, Math.max(0, dueMs - now()));
    settleTimer = { handle, dueMs };
  }

  /** One timer for all pending archives: re-lstat those whose settle time has passed, re-arm for the rest. */
  function runSettleCheck(): void {
    settleTimer = undefined;
    if (attachment.phase() !== 'watching') return;
    const at = now();
    let nextDueMs: number | undefined;
    for (const fileName of model.unsettledNames()) {
      const state = model.get(fileName);
      if (state?.kind !== 'pending') continue;
      const dueMs = state.stableSinceMs + settleTimeMs;
      if (dueMs <= at) void observe(fileName);
      else nextDueMs = nextDueMs === undefined ? dueMs : Math.min(nextDueMs, dueMs);
    }
    if (nextDueMs !== undefined) armSettleCheck(nextDueMs);
  }

  return {
    observe,
    clearTimers() {
      if (settleTimer !== undefined) timers.clearTimeout(settleTimer.handle);
      settleTimer = undefined;
      identifier.clearTimers();
    },
  };
}
