import { join } from 'node:path';
import type { Logger } from 'pino';
import { createFifoPump, type InFlight, type WorkQueue } from '../concurrency.js';
import type { IdentityReadResult } from '../archive/identity.js';
import type { FileFingerprint, ParsedArchiveName } from '../archive/types.js';
import { messageOf } from '../errors.js';
import { classifyEntry } from './classify-entry.js';
import type { AttachmentToken, DirectoryAttachment } from './directory-attachment.js';
import { lstatEntry } from './directory-io.js';
import { completeIdentify, observeEntry, type EntryState } from './entry-state.js';
import type { Interner } from './interner.js';
import type { InventoryModel } from './inventory-model.js';
import type { TimerHandle, Timers } from './timers.js';
import type { ArchiveRecord, ScanOperation } from './types.js';

export type IdentifyArchive = (path: string, name: ParsedArchiveName, fingerprint: FileFingerprint) => Promise<IdentityReadResult>;

/**
 * Looks at one entry at a time: lstat it, fold what is found into its state (entry-state.ts), and do
 * what the transition asks: look again once it may have settled, read its identity, retry a read that
 * failed for a transient reason. Every piece of work carries the attachment token it started under and
 * is dropped if the directory was detached meanwhile.
 */
export interface EntryObserver {
  /** lstat one entry and fold the result in; calls for the same name are serialized so lstats cannot land out of order. */
  observe(fileName: string): Promise<void>;
  /** Disarms the settle and retry timers (detach, stop). */
  clearTimers(): void;
}

export interface EntryObserverDeps {
  readonly directory: string;
  readonly identify: IdentifyArchive;
  readonly identifyConcurrency: number;
  readonly settleTimeMs: number;
  readonly logger: Logger;
  readonly now: () => number;
  readonly timers: Timers;
  readonly attachment: DirectoryAttachment;
  readonly model: InventoryModel;
  readonly interner: Interner;
  /** Bounds lstats in flight, shared with the scanner's. */
  readonly lstatQueue: WorkQueue;
  readonly inFlight: InFlight;
  readonly scanErrors: Record<ScanOperation, number>;
  /** Sets an entry's state in the model and tells whoever follows the inventory. */
  readonly commit: (fileName: string, next: EntryState | undefined) => void;
  readonly onArchiveSettled: ((record: ArchiveRecord) => void) | undefined;
}

interface IdentifyJob {
  readonly fileName: string;
  readonly state: EntryState;
  readonly token: AttachmentToken;
}

interface ArmedTimer {
  readonly handle: TimerHandle;
  readonly dueMs: number;
}

export function createEntryObserver(deps: EntryObserverDeps): EntryObserver {
  const { directory, attachment, model, logger, timers, now, settleTimeMs } = deps;
  const observing = new Map<string, Promise<void>>();
  const observeAgain = new Set<string>();
  const retryTimers = new Map<string, TimerHandle>();
  let settleTimer: ArmedTimer | undefined;
  const queueIdentify = createFifoPump<IdentifyJob>(deps.identifyConcurrency, (job) => runIdentify(job), deps.inFlight);

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

  async function observeLoop(fileName: string, token: AttachmentToken): Promise<void> {
    try {
      do {
        observeAgain.delete(fileName);
        const outcome = await deps.lstatQueue.run(() => lstatEntry(join(directory, fileName)));
        if (!token.current()) return;
        if (outcome.kind === 'failed') {
          deps.scanErrors.lstat += 1;
          logger.warn({ fileName, reason: outcome.message }, 'cannot lstat checkpoint directory entry; keeping what was known');
        } else {
          apply(fileName, classifyEntry(fileName, outcome.kind === 'found' ? outcome.stats : undefined));
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
      cancelRetry(fileName);
      deps.commit(fileName, transition.next);
    }
    if (transition.recheckAtMs !== undefined) armSettleCheck(transition.recheckAtMs);
    if (transition.identify && transition.next !== undefined) startIdentify(fileName, transition.next);
  }

  function startIdentify(fileName: string, state: EntryState): void {
    if (state.kind !== 'identifying') return;
    queueIdentify({ fileName, state, token: attachment.token() });
  }

  async function runIdentify({ fileName, state, token }: IdentifyJob): Promise<void> {
    if (!token.current() || model.get(fileName) !== state || state.kind !== 'identifying') return;
    let identified: IdentityReadResult;
    try {
      identified = await deps.identify(join(directory, fileName), state.name, state.fingerprint);
    } catch (error) {
      // A throwing reader is a bug; the archive still must not become deletable by scope on a guess.
      logger.error({ err: error, fileName }, 'identity reader threw');
      identified = { ok: false, reason: `identity reader failed: ${messageOf(error)}` };
    }
    if (!token.current()) return;
    const outcome = completeIdentify(model.get(fileName), state, identified, deps.interner.intern);
    switch (outcome.kind) {
      case 'stale':
        return;
      case 'changed':
        void observe(fileName);
        return;
      case 'retry':
        logger.warn({ fileName, reason: identified.ok ? undefined : identified.reason, retryInMs: outcome.delayMs }, 'transient error reading checkpoint archive; retrying');
        deps.commit(fileName, outcome.next);
        armRetry(fileName, outcome.next, outcome.delayMs);
        return;
      case 'settled':
        deps.commit(fileName, outcome.next);
        reportSettled(outcome.next.record);
        return;
    }
  }

  function armRetry(fileName: string, state: EntryState, delayMs: number): void {
    cancelRetry(fileName);
    const handle = timers.setTimeout(() => {
      retryTimers.delete(fileName);
      startIdentify(fileName, state);
    }, delayMs);
    retryTimers.set(fileName, handle);
  }

  function cancelRetry(fileName: string): void {
    const handle = retryTimers.get(fileName);
    if (handle === undefined) return;
    timers.clearTimeout(handle);
    retryTimers.delete(fileName);
  }

  function reportSettled(record: ArchiveRecord): void {
    if (record.identity === undefined) {
      logger.warn({ fileName: record.fileName, reason: record.unidentifiedReason }, 'checkpoint archive is unidentified; per-scope limits will not delete it');
    }
    if (deps.onArchiveSettled === undefined) return;
    try {
      deps.onArchiveSettled(indexedRecord(record));
    } catch (error) {
      logger.error({ err: error, fileName: record.fileName }, 'onArchiveSettled threw');
    }
  }

  /** The record as the index holds it (with its pin flag). */
  function indexedRecord(record: ArchiveRecord): ArchiveRecord {
    const index = model.index;
    if (record.identity === undefined) return index.unidentified.get(record.fileName) ?? record;
    const { namespace, pod, container } = record.identity;
    return index.ofContainer(namespace, pod, container).find((r) => r.fileName === record.fileName) ?? record;
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
      for (const handle of retryTimers.values()) timers.clearTimeout(handle);
      retryTimers.clear();
    },
  };
}
