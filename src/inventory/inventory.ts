import { join, resolve } from 'node:path';
import type { Logger } from 'pino';
import { pinFileNameOf } from '../archive/archive-name.js';
import type { FileFingerprint, IdentifiedArchive, ParsedArchiveName, Result } from '../archive/types.js';
import { indexArchives, type ArchiveIndex } from './archive-index.js';
import { buildSnapshot } from './build-snapshot.js';
import { classifyEntry } from './classify-entry.js';
import { listDirectory, lstatEntry, probeDirectory, type DirectoryIdentity } from './directory-io.js';
import { watchDirectory, type DirectoryWatch, type WatchDirectory, type WatchEvents } from './directory-watcher.js';
import { completeIdentify, isUnsettledArchive, observeEntry, type EntryState } from './entry-state.js';
import { systemTimers, type TimerHandle, type Timers } from './timers.js';
import type { ArchiveRecord, InventorySnapshot } from './types.js';
import { createWorkQueue } from './work-queue.js';

export const DEFAULT_SETTLE_TIME_MS = 2_000;
export const DEFAULT_RESYNC_INTERVAL_MS = 300_000;
export const DEFAULT_DIRECTORY_POLL_INTERVAL_MS = 5_000;

/**
 * Each identity read opens an archive and reads its tar headers. Four matches libuv's default
 * thread pool, so a burst of new archives cannot starve the lstats that keep the inventory current.
 */
const IDENTIFY_CONCURRENCY = 4;

/** lstats in flight at once (scans and settle checks alike): enough to keep the thread pool busy, bounded so 10,000 entries do not become 10,000 pending requests at once. */
const LSTAT_CONCURRENCY = 64;

export type IdentifyArchive = (path: string, name: ParsedArchiveName, fingerprint: FileFingerprint) => Promise<Result<IdentifiedArchive>>;

export interface InventoryDeps {
  readonly directory: string;
  readonly identify: IdentifyArchive;
  readonly logger: Logger;
  /** An archive counts once its size and mtime stayed unchanged this long. */
  readonly settleTimeMs?: number;
  readonly resyncIntervalMs?: number;
  /** How often to look for a missing directory. */
  readonly directoryPollIntervalMs?: number;
  readonly now?: () => number;
  readonly timers?: Timers;
  readonly watch?: WatchDirectory;
  /** Called once per archive each time it settles (first seen, or changed and settled again). */
  readonly onArchiveSettled?: (record: ArchiveRecord) => void;
  /** Called after every completed resync. */
  readonly onResync?: () => void;
}

export interface Inventory {
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Cached until something changes; the same object is returned while nothing has. */
  snapshot(): InventorySnapshot;
  /** Identified archives of the current snapshot by namespace, pod and container. */
  index(): ArchiveIndex;
  /** Full readdir + lstat of the directory, healing anything the watcher missed. */
  resync(): Promise<void>;
  /** Resolves once no lstat, scan or identity read is in flight (timers still armed do not count). */
  idle(): Promise<void>;
}

type Phase = 'stopped' | 'waiting' | 'watching';

interface ArmedTimer {
  readonly handle: TimerHandle;
  readonly dueMs: number;
}

export function createInventory(deps: InventoryDeps): Inventory {
  const directory = resolve(deps.directory);
  const { identify, logger } = deps;
  const settleTimeMs = deps.settleTimeMs ?? DEFAULT_SETTLE_TIME_MS;
  const resyncIntervalMs = deps.resyncIntervalMs ?? DEFAULT_RESYNC_INTERVAL_MS;
  const pollIntervalMs = deps.directoryPollIntervalMs ?? DEFAULT_DIRECTORY_POLL_INTERVAL_MS;
  const now = deps.now ?? Date.now;
  const timers = deps.timers ?? systemTimers;
  const watch = deps.watch ?? watchDirectory;
  const identifyQueue = createWorkQueue(IDENTIFY_CONCURRENCY);
  const lstatQueue = createWorkQueue(LSTAT_CONCURRENCY);

  let phase: Phase = 'stopped';
  // Bumped whenever the directory is attached or detached: work started under an older epoch is discarded.
  let epoch = 0;
  const entries = new Map<string, EntryState>();
  const unsettled = new Set<string>();
  let watcher: DirectoryWatch | undefined;
  let watchedDirectory: DirectoryIdentity | undefined;
  let attaching: Promise<void> | undefined;
  // chokidar shares one fs.watch per path across watchers, so a new watch on the same path must wait for the old one to close.
  let closing: Promise<void> = Promise.resolve();
  let directoryPresent = false;
  let absenceReported = false;
  let initialScanDone = false;
  const initialWaiting = new Set<string>();
  let lastScanTimestampMs: number | undefined;
  let lastScanDurationSeconds: number | undefined;
  let settleTimer: ArmedTimer | undefined;
  let pollTimer: TimerHandle | undefined;
  let resyncTimer: TimerHandle | undefined;
  let cachedSnapshot: InventorySnapshot | undefined;
  let cachedIndex: { readonly snapshot: InventorySnapshot; readonly index: ArchiveIndex } | undefined;
  let inflight = 0;
  let idleWaiters: (() => void)[] = [];
  const observing = new Map<string, Promise<void>>();
  const observeAgain = new Set<string>();

  const invalidate = (): void => {
    cachedSnapshot = undefined;
  };

  function track(work: Promise<void>): Promise<void> {
    inflight += 1;
    return work
      .catch((error: unknown) => logger.error({ err: error }, 'inventory task failed'))
      .finally(() => {
        inflight -= 1;
        if (inflight === 0) {
          const waiters = idleWaiters;
          idleWaiters = [];
          for (const wake of waiters) wake();
        }
      });
  }

  function commit(fileName: string, next: EntryState | undefined): void {
    if (next === undefined) entries.delete(fileName);
    else entries.set(fileName, next);
    if (isUnsettledArchive(next)) {
      unsettled.add(fileName);
      return;
    }
    unsettled.delete(fileName);
    if (initialWaiting.delete(fileName) && initialWaiting.size === 0) invalidate();
  }

  function apply(fileName: string, observation: Parameters<typeof observeEntry>[1]): void {
    const previous = entries.get(fileName);
    const transition = observeEntry(previous, observation, now(), settleTimeMs);
    if (transition.next !== previous) commit(fileName, transition.next);
    if (transition.changed) invalidate();
    if (transition.recheckAtMs !== undefined) armSettleCheck(transition.recheckAtMs);
    if (transition.identify && transition.next !== undefined) startIdentify(fileName, transition.next);
    if (transition.settled && transition.next?.kind === 'settled') reportSettled(transition.next.record);
  }

  /** lstat one entry and fold the result in; calls for the same name are serialized so lstats cannot land out of order. */
  function observe(fileName: string): Promise<void> {
    const running = observing.get(fileName);
    if (running !== undefined) {
      observeAgain.add(fileName);
      return running;
    }
    const run = track(observeLoop(fileName, epoch));
    observing.set(fileName, run);
    return run;
  }

  async function observeLoop(fileName: string, startedEpoch: number): Promise<void> {
    try {
      do {
        observeAgain.delete(fileName);
        const outcome = await lstatQueue.run(() => lstatEntry(join(directory, fileName)));
        if (epoch !== startedEpoch || phase !== 'watching') return;
        if (outcome.kind === 'failed') {
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

  function startIdentify(fileName: string, startedFrom: EntryState): void {
    if (startedFrom.kind !== 'identifying') return;
    const startedEpoch = epoch;
    void track(
      identifyQueue.run(async () => {
        if (epoch !== startedEpoch || entries.get(fileName) !== startedFrom) return;
        let identified: Result<IdentifiedArchive>;
        try {
          identified = await identify(join(directory, fileName), startedFrom.name, startedFrom.fingerprint);
        } catch (error) {
          // A throwing reader is a bug; the archive still must not become deletable by scope on a guess.
          logger.error({ err: error, fileName }, 'identity reader threw');
          identified = { ok: false, reason: `identity reader failed: ${error instanceof Error ? error.message : String(error)}` };
        }
        if (epoch !== startedEpoch) return;
        const verifying = completeIdentify(entries.get(fileName), startedFrom, identified);
        if (verifying === undefined) return;
        commit(fileName, verifying);
        void observe(fileName);
      }),
    );
  }

  function recordWithPin(record: ArchiveRecord): ArchiveRecord {
    const pinned = entries.get(pinFileNameOf(record.fileName))?.kind === 'pin';
    return pinned === record.pinned ? record : Object.freeze({ ...record, pinned });
  }

  function reportSettled(record: ArchiveRecord): void {
    if (record.identity === undefined) {
      logger.warn({ fileName: record.fileName, reason: record.unidentifiedReason }, 'checkpoint archive is unidentified; per-scope limits will not delete it');
    }
    if (deps.onArchiveSettled === undefined) return;
    try {
      deps.onArchiveSettled(recordWithPin(record));
    } catch (error) {
      logger.error({ err: error, fileName: record.fileName }, 'onArchiveSettled threw');
    }
  }

  function armSettleCheck(dueMs: number): void {
    if (phase !== 'watching') return;
    if (settleTimer !== undefined && settleTimer.dueMs <= dueMs) return;
    if (settleTimer !== undefined) timers.clearTimeout(settleTimer.handle);
    const handle = timers.setTimeout(runSettleCheck, Math.max(0, dueMs - now()));
    settleTimer = { handle, dueMs };
  }

  /** One timer for all pending archives: re-lstat those whose settle time has passed, re-arm for the rest. */
  function runSettleCheck(): void {
    settleTimer = undefined;
    if (phase !== 'watching') return;
    const at = now();
    let nextDueMs: number | undefined;
    for (const fileName of unsettled) {
      const state = entries.get(fileName);
      if (state?.kind !== 'pending') continue;
      const dueMs = state.stableSinceMs + settleTimeMs;
      if (dueMs <= at) void observe(fileName);
      else nextDueMs = nextDueMs === undefined ? dueMs : Math.min(nextDueMs, dueMs);
    }
    if (nextDueMs !== undefined) armSettleCheck(nextDueMs);
  }

  function clearTimers(): void {
    if (settleTimer !== undefined) timers.clearTimeout(settleTimer.handle);
    if (pollTimer !== undefined) timers.clearTimeout(pollTimer);
    if (resyncTimer !== undefined) timers.clearTimeout(resyncTimer);
    settleTimer = undefined;
    pollTimer = undefined;
    resyncTimer = undefined;
  }

  function armResync(): void {
    if (resyncTimer !== undefined) timers.clearTimeout(resyncTimer);
    resyncTimer = timers.setTimeout(() => {
      resyncTimer = undefined;
      void track(resync());
    }, resyncIntervalMs);
  }

  /**
   * One cheap stat per interval. While waiting it looks for the directory to appear; while watching
   * it checks the directory is still the one being watched, because chokidar does not reliably
   * report the removal of the watched directory itself.
   */
  function armPoll(): void {
    if (pollTimer !== undefined) timers.clearTimeout(pollTimer);
    pollTimer = timers.setTimeout(() => {
      pollTimer = undefined;
      void track(phase === 'watching' ? checkWatchedDirectory() : tryAttach());
    }, pollIntervalMs);
  }

  async function checkWatchedDirectory(): Promise<void> {
    const checkEpoch = epoch;
    const probe = await probeDirectory(directory);
    if (epoch !== checkEpoch || phase !== 'watching') return;
    if (isWatchedDirectory(probe)) {
      armPoll();
      return;
    }
    detach(probe.ok ? 'replaced by another directory' : probe.reason);
    await tryAttach();
  }

  function isWatchedDirectory(probe: Result<DirectoryIdentity>): boolean {
    return probe.ok && probe.value.dev === watchedDirectory?.dev && probe.value.ino === watchedDirectory.ino;
  }

  function reportAbsent(reason: string): void {
    directoryPresent = false;
    // Nothing is present, so nothing is left for the initial scan to wait for.
    initialScanDone = true;
    initialWaiting.clear();
    invalidate();
    if (!absenceReported) {
      logger.warn({ directory, reason }, 'checkpoint directory unavailable; waiting for it to appear');
      absenceReported = true;
    }
  }

  function resetInitialScan(): void {
    initialScanDone = false;
    initialWaiting.clear();
  }

  function forgetEntries(): void {
    entries.clear();
    unsettled.clear();
    invalidate();
  }

  function detach(reason: string): void {
    if (phase !== 'watching') return;
    epoch += 1;
    phase = 'waiting';
    clearTimers();
    closeWatcher();
    forgetEntries();
    reportAbsent(reason);
    armPoll();
  }

  function closeWatcher(): Promise<void> {
    const open = watcher;
    watcher = undefined;
    if (open !== undefined) {
      closing = closing.then(() => open.close()).catch((error: unknown) => logger.warn({ err: error }, 'closing the directory watcher failed'));
      void track(closing);
    }
    return closing;
  }

  function tryAttach(): Promise<void> {
    attaching ??= attachIfPresent().finally(() => {
      attaching = undefined;
    });
    return attaching;
  }

  async function attachIfPresent(): Promise<void> {
    if (phase !== 'waiting') return;
    const probe = await probeDirectory(directory);
    if (phase !== 'waiting') return;
    if (!probe.ok) {
      reportAbsent(probe.reason);
      armPoll();
      return;
    }
    const startedEpoch = ++epoch;
    phase = 'watching';
    // Frozen: snapshots hand this very object out.
    watchedDirectory = Object.freeze({ dev: probe.value.dev, ino: probe.value.ino });
    if (pollTimer !== undefined) timers.clearTimeout(pollTimer);
    pollTimer = undefined;
    // A directory attached again (recreated, remounted) is rescanned from nothing: until every archive in it
    // has settled the view is partial, exactly as at start, and must not read as complete.
    resetInitialScan();
    forgetEntries();
    directoryPresent = true;
    if (absenceReported) logger.info({ directory }, 'checkpoint directory appeared; watching it');
    absenceReported = false;
    await closing;
    if (epoch !== startedEpoch) return;
    try {
      const live = await watch(directory, eventsFor(startedEpoch));
      if (epoch !== startedEpoch) {
        await live.close();
        return;
      }
      watcher = live;
    } catch (error) {
      detach(error instanceof Error ? error.message : String(error));
      return;
    }
    await fullScan(startedEpoch);
    if (epoch !== startedEpoch) return;
    armResync();
    armPoll();
  }

  function eventsFor(watchEpoch: number): WatchEvents {
    const current = (): boolean => epoch === watchEpoch && phase === 'watching';
    return {
      entryChanged(fileName) {
        if (current()) void observe(fileName);
      },
      directoryGone() {
        if (!current()) return;
        // The watch on the removed directory is dead even if the path is recreated at once, so start over.
        detach('removed while watched');
        void track(tryAttach());
      },
      error(error) {
        logger.warn({ err: error }, 'checkpoint directory watcher error; the periodic resync heals missed events');
      },
    };
  }

  /** readdir + lstat of every entry, plus an lstat of every entry we hold that readdir no longer lists. */
  async function fullScan(scanEpoch: number): Promise<'scanned' | 'detached' | 'abandoned'> {
    const startedMs = now();
    const probe = await probeDirectory(directory);
    if (epoch !== scanEpoch || phase !== 'watching') return 'abandoned';
    if (!isWatchedDirectory(probe)) {
      // Gone, or replaced by another directory the watcher does not see: start over on whatever is there now.
      detach(probe.ok ? 'replaced by another directory' : probe.reason);
      return 'detached';
    }
    const listing = await listDirectory(directory);
    if (epoch !== scanEpoch || phase !== 'watching') return 'abandoned';
    if (!listing.ok) {
      if (!listing.reason.gone) {
        logger.warn({ directory, reason: listing.reason.message }, 'cannot list checkpoint directory; keeping what was known');
        return 'abandoned';
      }
      detach(listing.reason.message);
      return 'detached';
    }
    const names = new Set(listing.value);
    // Entries readdir no longer lists are lstat'ed rather than dropped: one may have been created after readdir ran.
    for (const fileName of entries.keys()) names.add(fileName);
    await Promise.all(Array.from(names, observe));
    if (epoch !== scanEpoch || phase !== 'watching') return 'abandoned';
    if (!initialScanDone) {
      initialScanDone = true;
      for (const fileName of unsettled) initialWaiting.add(fileName);
    }
    const finishedMs = now();
    lastScanTimestampMs = finishedMs;
    lastScanDurationSeconds = (finishedMs - startedMs) / 1000;
    invalidate();
    return 'scanned';
  }

  async function resync(): Promise<void> {
    if (phase === 'stopped') return;
    if (phase === 'waiting') await tryAttach();
    else if ((await fullScan(epoch)) === 'detached') await tryAttach();
    else if (currentPhase() === 'watching') armResync();
    // phase is reassigned across the awaits above; read it afresh.
    if (currentPhase() === 'stopped' || deps.onResync === undefined) return;
    try {
      deps.onResync();
    } catch (error) {
      logger.error({ err: error }, 'onResync threw');
    }
  }

  function snapshot_(): InventorySnapshot {
    cachedSnapshot ??= buildSnapshot(entries, {
      directory,
      directoryPresent,
      directoryIdentity: directoryPresent ? watchedDirectory : undefined,
      initialScanComplete: initialScanDone && initialWaiting.size === 0,
      lastScanTimestampMs,
      lastScanDurationSeconds,
    });
    return cachedSnapshot;
  }

  function currentPhase(): Phase {
    return phase;
  }

  function idle(): Promise<void> {
    if (inflight === 0) return Promise.resolve();
    return new Promise((wake) => idleWaiters.push(wake));
  }

  return {
    async start() {
      if (phase !== 'stopped') throw new Error('inventory already started');
      phase = 'waiting';
      resetInitialScan();
      await track(tryAttach());
    },

    async stop() {
      if (phase === 'stopped') return;
      phase = 'stopped';
      epoch += 1;
      clearTimers();
      await closeWatcher();
      await idle();
    },

    snapshot: snapshot_,

    index() {
      const snapshot = snapshot_();
      if (cachedIndex?.snapshot !== snapshot) cachedIndex = { snapshot, index: indexArchives(snapshot.archives) };
      return cachedIndex.index;
    },

    resync: () => track(resync()),
    idle,
  };
}
