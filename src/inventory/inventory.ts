import { join, resolve } from 'node:path';
import { createFifoPump, createInFlight, createWorkQueue, forEachConcurrent } from '../concurrency.js';
import type { Logger } from 'pino';
import type { IdentityReadResult } from '../archive/identity.js';
import type { FileFingerprint, ParsedArchiveName } from '../archive/types.js';
import type { ArchiveIndex } from './archive-index.js';
import { buildSnapshot } from './build-snapshot.js';
import { classifyEntry } from './classify-entry.js';
import { readFileSync } from 'node:fs';
import { isGone, listDirectory, lstatEntry, messageOf, probeDirectory, type DirectoryIdentity, type ProbeResult } from './directory-io.js';
import { watchDirectory, type DirectoryWatch, type WatchDirectory, type WatchEvents } from './directory-watcher.js';
import { completeIdentify, observeEntry, type EntryState } from './entry-state.js';
import { createChangeFeed } from './change-feed.js';
import { createInterner } from './interner.js';
import { createInventoryModel } from './inventory-model.js';
import { systemTimers, type TimerHandle, type Timers } from './timers.js';
import { RESYNC_REASONS, SCAN_OPERATIONS, type ArchiveRecord, type InventoryChange, type InventorySnapshot, type InventoryStatus, type ResyncReason, type ScanOperation } from './types.js';

export const DEFAULT_SETTLE_TIME_MS = 2_000;
export const DEFAULT_RESYNC_INTERVAL_MS = 300_000;
/**
 * One stat of the directory per interval: it notices a directory replaced or gone, a missing one that
 * appeared, and events the watch lost (the directory's mtime/ctime moved while no event came), so the
 * inventory heals within seconds rather than at the next periodic resync.
 */
export const DEFAULT_DIRECTORY_POLL_INTERVAL_MS = 2_000;

/** The kernel's default length of an inotify instance's queue, used when /proc cannot be read. */
const DEFAULT_MAX_QUEUED_EVENTS = 16_384;

/**
 * An inotify queue holds at most `max_queued_events` events; past that the kernel drops events and
 * queues one IN_Q_OVERFLOW, which libuv discards, so an overflow cannot be seen directly. But every
 * event of a full queue is still read afterwards: an overflow implies at least that many events read
 * in a short time. Half of it within one poll interval (a burst may straddle two) is taken as "events
 * may have been lost" and answered with a rescan: at worst one readdir after a large burst.
 */
function overflowSuspicionThreshold(): number {
  let limit = DEFAULT_MAX_QUEUED_EVENTS;
  try {
    // Read as the kernel does, when the watch is made: a later change of the setting does not apply to it.
    const value = Number.parseInt(readFileSync('/proc/sys/fs/inotify/max_queued_events', 'utf8').trim(), 10);
    if (Number.isSafeInteger(value) && value > 0) limit = value;
  } catch {
    // Not Linux, or /proc unavailable: the kernel default.
  }
  return Math.max(1, Math.floor(limit / 2));
}

/**
 * Each identity read opens an archive and reads its tar headers. Four matches libuv's default
 * thread pool, so a burst of new archives cannot starve the lstats that keep the inventory current;
 * a reader with a thread of its own (the identity worker) takes more at once, to batch them.
 */
const DEFAULT_IDENTIFY_CONCURRENCY = 4;

/** lstats in flight at once (scans and settle checks alike): enough to keep the thread pool busy, bounded so 100,000 entries do not become 100,000 pending requests. */
const LSTAT_CONCURRENCY = 64;

export type IdentifyArchive = (path: string, name: ParsedArchiveName, fingerprint: FileFingerprint) => Promise<IdentityReadResult>;

export interface InventoryDeps {
  readonly directory: string;
  readonly identify: IdentifyArchive;
  /** Identity reads in flight at once (default 4). */
  readonly identifyConcurrency?: number;
  readonly logger: Logger;
  /** An archive counts once its size and mtime stayed unchanged this long. */
  readonly settleTimeMs?: number;
  readonly resyncIntervalMs?: number;
  /** How often to check the directory is still the one watched, or to look for a missing one. */
  readonly directoryPollIntervalMs?: number;
  readonly now?: () => number;
  readonly timers?: Timers;
  /** The directory watch; `false` for a one-shot inventory (`ls`, `plan`) that scans once and never watches. */
  readonly watch?: WatchDirectory | false;
  /** Called once per archive each time it settles (first seen, or changed and settled again). */
  readonly onArchiveSettled?: (record: ArchiveRecord) => void;
  /** Called after every completed resync. */
  readonly onResync?: () => void;
  /** Events within one poll interval from which lost events are suspected (default: half the kernel's inotify queue length). */
  readonly lostEventsThreshold?: number;
}

/** Work done, for tests that guard against doing it once per archive. */
export interface InventoryWork {
  readonly snapshotBuilds: number;
  readonly changeBatches: number;
}

export interface Inventory {
  start(): Promise<void>;
  stop(): Promise<void>;
  /** An immutable view, built on demand and cached until something changes: at most once per batch of events. */
  snapshot(): InventorySnapshot;
  /** The live index of settled archives by namespace, pod and container (updated in place). */
  index(): ArchiveIndex;
  status(): InventoryStatus;
  /** Calls `listener` once per batch of changes (after the event-loop turn that made them). */
  subscribe(listener: (change: InventoryChange) => void): () => void;
  /** Full readdir + lstat of the directory, healing anything the watcher missed. */
  resync(): Promise<void>;
  /**
   * lstat these entries now and fold what is found into the index, without waiting for their watch
   * events: after retention unlinks files, the next plan must not see them (a stale plan would pick
   * the same files again).
   */
  refresh(fileNames: Iterable<string>): Promise<void>;
  /** Resolves once no lstat, scan or identity read is in flight (timers still armed do not count). */
  idle(): Promise<void>;
  work(): InventoryWork;
}

type Phase = 'stopped' | 'waiting' | 'watching';

interface ArmedTimer {
  readonly handle: TimerHandle;
  readonly dueMs: number;
}

/**
 * The I/O driver of the inventory: one watch on the directory, lstats in answer to its events, identity
 * reads, timers for settling, retries, resyncs and directory checks. What it learns goes into the
 * inventory model (entry states, index, counters); readers get snapshots built from that on demand.
 */
export function createInventory(deps: InventoryDeps): Inventory {
  const directory = resolve(deps.directory);
  const { identify, logger } = deps;
  const settleTimeMs = deps.settleTimeMs ?? DEFAULT_SETTLE_TIME_MS;
  const resyncIntervalMs = deps.resyncIntervalMs ?? DEFAULT_RESYNC_INTERVAL_MS;
  const pollIntervalMs = deps.directoryPollIntervalMs ?? DEFAULT_DIRECTORY_POLL_INTERVAL_MS;
  const now = deps.now ?? Date.now;
  const timers = deps.timers ?? systemTimers;
  const watch = deps.watch === false ? undefined : (deps.watch ?? watchDirectory);
  const identifyConcurrency = deps.identifyConcurrency ?? DEFAULT_IDENTIFY_CONCURRENCY;
  const lstatQueue = createWorkQueue(LSTAT_CONCURRENCY);
  const model = createInventoryModel();
  const feed = createChangeFeed(() => model.takeChanges(), logger);

  let phase: Phase = 'stopped';
  // Bumped whenever the directory is attached or detached: work started under an older epoch is discarded.
  let epoch = 0;
  let watcher: DirectoryWatch | undefined;
  let watchedDirectory: DirectoryIdentity | undefined;
  let attaching: Promise<void> | undefined;
  let directoryPresent = false;
  let directoryReadable = true;
  // Why the directory cannot be seen, as last reported; logged once per change of it.
  let directoryProblem: string | undefined;
  let reportedProblem: 'missing' | 'unreadable' | undefined;
  // The directory's mtime/ctime at the last poll, and watch events since: a stamp that moved with no event is a lost event.
  let lastStamp: string | undefined;
  let eventsSincePoll = 0;
  let lostEventsThreshold = deps.lostEventsThreshold;
  let initialScanDone = false;
  const initialWaiting = new Set<string>();
  let lastScanTimestampMs: number | undefined;
  let lastScanDurationSeconds: number | undefined;
  let settleTimer: ArmedTimer | undefined;
  let pollTimer: TimerHandle | undefined;
  let resyncTimer: TimerHandle | undefined;
  const retryTimers = new Map<string, TimerHandle>();
  let cachedSnapshot: InventorySnapshot | undefined;
  const inFlight = createInFlight((error) => logger.error({ err: error }, 'inventory task failed'));
  const observing = new Map<string, Promise<void>>();
  const observeAgain = new Set<string>();
  let snapshotBuilds = 0;
  const scanErrors = Object.fromEntries(SCAN_OPERATIONS.map((operation) => [operation, 0])) as Record<ScanOperation, number>;
  const resyncs = Object.fromEntries(RESYNC_REASONS.map((reason) => [reason, 0])) as Record<ResyncReason, number>;
  // Names shared by many archives (namespaces, pods, containers) are kept once.
  const interner = createInterner();

  const { track } = inFlight;

  /** Marks the views stale and schedules one notification for everything changed in this event-loop turn. */
  function changed(everything = false): void {
    cachedSnapshot = undefined;
    feed.changed(everything);
  }

  function commit(fileName: string, next: EntryState | undefined): void {
    model.set(fileName, next);
    changed();
    if (next?.kind === 'pending' || next?.kind === 'identifying') return;
    if (initialWaiting.delete(fileName) && initialWaiting.size === 0) changed(true);
  }

  function apply(fileName: string, observation: ReturnType<typeof classifyEntry>): void {
    const previous = model.get(fileName);
    const transition = observeEntry(previous, observation, now(), settleTimeMs);
    if (transition.next !== previous) {
      cancelRetry(fileName);
      commit(fileName, transition.next);
    }
    if (transition.recheckAtMs !== undefined) armSettleCheck(transition.recheckAtMs);
    if (transition.identify && transition.next !== undefined) startIdentify(fileName, transition.next);
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
          scanErrors.lstat += 1;
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

  interface IdentifyJob {
    readonly fileName: string;
    readonly state: EntryState;
    readonly epoch: number;
  }
  const queueIdentify = createFifoPump<IdentifyJob>(identifyConcurrency, (job) => runIdentify(job.fileName, job.state, job.epoch), inFlight);

  function startIdentify(fileName: string, startedFrom: EntryState): void {
    if (startedFrom.kind !== 'identifying') return;
    queueIdentify({ fileName, state: startedFrom, epoch });
  }

  async function runIdentify(fileName: string, startedFrom: EntryState, startedEpoch: number): Promise<void> {
    if (epoch !== startedEpoch || model.get(fileName) !== startedFrom || startedFrom.kind !== 'identifying') return;
    let identified: IdentityReadResult;
    try {
      identified = await identify(join(directory, fileName), startedFrom.name, startedFrom.fingerprint);
    } catch (error) {
      // A throwing reader is a bug; the archive still must not become deletable by scope on a guess.
      logger.error({ err: error, fileName }, 'identity reader threw');
      identified = { ok: false, reason: `identity reader failed: ${error instanceof Error ? error.message : String(error)}` };
    }
    if (epoch !== startedEpoch || phase !== 'watching') return;
    const outcome = completeIdentify(model.get(fileName), startedFrom, identified, interner.intern);
    switch (outcome.kind) {
      case 'stale':
        return;
      case 'changed':
        void observe(fileName);
        return;
      case 'retry':
        logger.warn({ fileName, reason: identified.ok ? undefined : identified.reason, retryInMs: outcome.delayMs }, 'transient error reading checkpoint archive; retrying');
        commit(fileName, outcome.next);
        armRetry(fileName, outcome.next, outcome.delayMs);
        return;
      case 'settled':
        commit(fileName, outcome.next);
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
    for (const fileName of model.unsettledNames()) {
      const state = model.get(fileName);
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
    for (const handle of retryTimers.values()) timers.clearTimeout(handle);
    retryTimers.clear();
    settleTimer = undefined;
    pollTimer = undefined;
    resyncTimer = undefined;
  }

  function armResync(): void {
    if (watch === undefined) return;
    if (resyncTimer !== undefined) timers.clearTimeout(resyncTimer);
    resyncTimer = timers.setTimeout(() => {
      resyncTimer = undefined;
      void track(resync());
    }, resyncIntervalMs);
  }

  /**
   * One cheap stat per interval. While waiting it looks for the directory to appear; while watching
   * it checks the directory is still the one being watched: a watch on a removed directory is dead
   * even when the path is recreated at once.
   */
  function armPoll(): void {
    if (watch === undefined) return;
    if (pollTimer !== undefined) timers.clearTimeout(pollTimer);
    pollTimer = timers.setTimeout(() => {
      pollTimer = undefined;
      void track(phase === 'watching' ? checkWatchedDirectory() : tryAttach());
    }, pollIntervalMs);
  }

  /**
   * The poll while watching: the directory is still the one watched, it can be listed, and no event
   * was lost since the last poll. Anything else rescans now.
   */
  async function checkWatchedDirectory(forced?: ResyncReason): Promise<void> {
    const checkEpoch = epoch;
    const events = eventsSincePoll;
    eventsSincePoll = 0;
    const probe = await probeDirectory(directory);
    if (epoch !== checkEpoch || phase !== 'watching') return;
    if (unreadable(probe)) {
      armPoll();
      return;
    }
    if (!isWatchedDirectory(probe)) {
      detach(probe.ok ? 'replaced by another directory' : probe.reason);
      await tryAttach();
      return;
    }
    const stamp = probe.ok ? probe.stamp : undefined;
    const moved = lastStamp !== undefined && stamp !== lastStamp;
    lastStamp = stamp;
    const reason: ResyncReason | undefined = forced ?? (!directoryReadable
      ? 'unreadable_retry'
      : events >= (lostEventsThreshold ?? Number.POSITIVE_INFINITY)
        ? 'events_lost'
        : moved && events === 0
          ? 'unreported_change'
          : undefined);
    if (reason === 'events_lost') logger.info({ directory, events }, 'a burst of directory events may have overflowed the kernel queue; rescanning');
    if (reason === 'unreported_change') logger.warn({ directory }, 'the checkpoint directory changed without a watch event (events lost); rescanning');
    if (reason !== undefined) await scanNow(reason);
    if (epoch === checkEpoch && phase === 'watching') armPoll();
  }

  function isWatchedDirectory(probe: ProbeResult): boolean {
    return probe.ok && probe.value.dev === watchedDirectory?.dev && probe.value.ino === watchedDirectory.ino;
  }

  /** The directory could not be looked at (EACCES, EIO): keep the last known inventory and say so. */
  function unreadable(probe: ProbeResult): boolean {
    if (probe.ok || probe.gone) return false;
    markUnreadable('stat', `cannot stat it: ${probe.reason}`);
    return true;
  }

  /** Counts the failure and, once per change of cause, logs why the directory cannot be seen; what was known stays. */
  function markUnreadable(operation: ScanOperation, problem: string): void {
    scanErrors[operation] += 1;
    const changedCause = directoryReadable || directoryProblem !== problem;
    directoryReadable = false;
    directoryProblem = problem;
    if (changedCause) {
      logger.error(
        { directory, reason: problem },
        `checkpoint directory exists but cannot be read (${problem}): nothing in it is measured or deleted until it can; retrying every ${pollIntervalMs / 1000}s`,
      );
      reportedProblem = 'unreadable';
      changed(true);
    }
  }

  function markReadable(): void {
    if (!directoryReadable || reportedProblem !== undefined) {
      logger.info({ directory }, reportedProblem === 'missing' ? 'checkpoint directory appeared; watching it' : 'checkpoint directory readable again');
    }
    directoryReadable = true;
    directoryProblem = undefined;
    reportedProblem = undefined;
  }

  /** Nothing is seen, for a reason that is not "unreadable": nothing is left for the initial scan to wait for. */
  function nothingToWaitFor(): void {
    initialScanDone = true;
    initialWaiting.clear();
    changed(true);
  }

  function reportAbsent(reason: string): void {
    directoryPresent = false;
    directoryReadable = true;
    directoryProblem = reason;
    nothingToWaitFor();
    if (reportedProblem !== 'missing') {
      logger.warn({ directory, reason }, 'checkpoint directory does not exist; waiting for it to appear');
      reportedProblem = 'missing';
    }
  }

  function detach(reason: string): void {
    if (phase !== 'watching') return;
    epoch += 1;
    phase = 'waiting';
    clearTimers();
    closeWatcher();
    model.clear();
    reportAbsent(reason);
    armPoll();
  }

  /**
   * The directory is there but cannot be watched (EACCES on inotify_add_watch, no watch left): nothing
   * in it can be seen, so nothing is held. The poll tries again.
   */
  function detachUnreadable(operation: ScanOperation, problem: string): void {
    epoch += 1;
    phase = 'waiting';
    clearTimers();
    closeWatcher();
    model.clear();
    directoryPresent = true;
    markUnreadable(operation, problem);
    nothingToWaitFor();
    armPoll();
  }

  function closeWatcher(): void {
    const open = watcher;
    watcher = undefined;
    if (open === undefined) return;
    void track(open.close().catch((error: unknown) => logger.warn({ err: error }, 'closing the directory watcher failed')));
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
      if (probe.gone) reportAbsent(probe.reason);
      else {
        // What is there is unknown (a parent cannot be searched, EIO): not missing, unreadable.
        directoryPresent = false;
        markUnreadable('stat', `cannot stat it: ${probe.reason}`);
        nothingToWaitFor();
      }
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
    initialScanDone = false;
    initialWaiting.clear();
    model.clear();
    interner.reset();
    directoryPresent = true;
    lastStamp = probe.stamp;
    eventsSincePoll = 0;
    changed(true);
    if (watch !== undefined) {
      // Read when the first watch is made, as the kernel reads it when the process's inotify instance is made.
      lostEventsThreshold ??= overflowSuspicionThreshold();
      try {
        const live = await watch(directory, eventsFor(startedEpoch));
        if (epoch !== startedEpoch) {
          await live.close();
          return;
        }
        watcher = live;
      } catch (error) {
        if (epoch !== startedEpoch) return;
        if (isGone(error)) detach(messageOf(error));
        else detachUnreadable('watch', `cannot watch it: ${messageOf(error)}`);
        return;
      }
    }
    await fullScan(startedEpoch, 'initial');
    if (epoch !== startedEpoch) return;
    armResync();
    armPoll();
  }

  function eventsFor(watchEpoch: number): WatchEvents {
    const current = (): boolean => epoch === watchEpoch && phase === 'watching';
    return {
      entryChanged(fileName) {
        if (!current()) return;
        eventsSincePoll += 1;
        void observe(fileName);
      },
      directoryChanged() {
        // The directory itself was moved, removed or chmod'ed: check it now, not at the next poll.
        if (current()) void track(checkWatchedDirectory('directory_event'));
      },
      error(error) {
        logger.warn({ err: error }, 'checkpoint directory watch failed; checking the directory and rescanning');
        if (current()) void track(checkWatchedDirectory('directory_event'));
      },
    };
  }

  async function scanNow(reason: ResyncReason): Promise<void> {
    if ((await fullScan(epoch, reason)) === 'detached') await tryAttach();
  }

  /** readdir + lstat of every entry, plus an lstat of every entry we hold that readdir no longer lists. */
  async function fullScan(scanEpoch: number, reason: ResyncReason): Promise<'scanned' | 'detached' | 'abandoned'> {
    const startedMs = now();
    resyncs[reason] += 1;
    // Start the pools afresh at every scan, so names of containers long gone do not pile up.
    interner.reset();
    const probe = await probeDirectory(directory);
    if (epoch !== scanEpoch || phase !== 'watching') return 'abandoned';
    if (unreadable(probe)) return 'abandoned';
    if (!isWatchedDirectory(probe)) {
      // Gone, or replaced by another directory the watcher does not see: start over on whatever is there now.
      detach(probe.ok ? 'replaced by another directory' : probe.reason);
      return 'detached';
    }
    const listing = await listDirectory(directory);
    if (epoch !== scanEpoch || phase !== 'watching') return 'abandoned';
    if (!listing.ok) {
      if (!listing.reason.gone) {
        markUnreadable('readdir', `cannot list it: ${listing.reason.message}`);
        return 'abandoned';
      }
      detach(listing.reason.message);
      return 'detached';
    }
    markReadable();
    const names = new Set(listing.value);
    // Entries readdir no longer lists are lstat'ed rather than dropped: one may have been created after readdir ran.
    for (const fileName of model.names()) names.add(fileName);
    await forEachConcurrent([...names], LSTAT_CONCURRENCY, observe, () => epoch === scanEpoch);
    if (epoch !== scanEpoch || phase !== 'watching') return 'abandoned';
    if (!initialScanDone) {
      initialScanDone = true;
      for (const fileName of model.unsettledNames()) initialWaiting.add(fileName);
    }
    const finishedMs = now();
    lastScanTimestampMs = finishedMs;
    lastScanDurationSeconds = (finishedMs - startedMs) / 1000;
    changed(true);
    return 'scanned';
  }

  async function resync(): Promise<void> {
    if (phase === 'stopped') return;
    if (phase === 'waiting') await tryAttach();
    else if ((await fullScan(epoch, 'periodic')) === 'detached') await tryAttach();
    else if (currentPhase() === 'watching') armResync();
    // phase is reassigned across the awaits above; read it afresh.
    if (currentPhase() === 'stopped' || deps.onResync === undefined) return;
    try {
      deps.onResync();
    } catch (error) {
      logger.error({ err: error }, 'onResync threw');
    }
  }

  function initialScanComplete(): boolean {
    return initialScanDone && initialWaiting.size === 0;
  }

  function snapshot_(): InventorySnapshot {
    if (cachedSnapshot === undefined) {
      snapshotBuilds += 1;
      cachedSnapshot = buildSnapshot(model, {
        directory,
        directoryPresent,
        directoryIdentity: directoryPresent ? watchedDirectory : undefined,
        initialScanComplete: initialScanComplete(),
        lastScanTimestampMs,
        lastScanDurationSeconds,
      });
    }
    return cachedSnapshot;
  }

  function currentPhase(): Phase {
    return phase;
  }

  const { idle } = inFlight;

  return {
    async start() {
      if (phase !== 'stopped') throw new Error('inventory already started');
      phase = 'waiting';
      await track(tryAttach());
    },

    async stop() {
      if (phase === 'stopped') return;
      phase = 'stopped';
      epoch += 1;
      clearTimers();
      feed.cancel();
      closeWatcher();
      await idle();
    },

    snapshot: snapshot_,
    index: () => model.index,
    status: () => ({
      directory,
      directoryPresent,
      directoryIdentity: directoryPresent ? watchedDirectory : undefined,
      directoryReadable,
      directoryProblem,
      initialScanComplete: initialScanComplete(),
      archives: model.index.size,
      identifiedBytes: model.identifiedBytes,
      unidentifiedArchives: model.index.unidentified.size,
      unidentifiedBytes: model.unidentifiedBytes,
      unrecognizedFiles: model.unrecognized.size,
      unrecognizedBytes: model.unrecognizedBytes,
      hardLinkedArchives: model.hardLinkedArchives,
      hardLinkedBytes: model.hardLinkedBytes,
      pendingArchives: model.pendingArchives,
      lastScanTimestampMs,
      lastScanDurationSeconds,
      scanErrors: { ...scanErrors },
      resyncs: { ...resyncs },
    }),
    subscribe: (listener) => feed.subscribe(listener),
    resync: () => track(resync()),
    async refresh(fileNames) {
      if (phase !== 'watching') return;
      const runs: Promise<void>[] = [];
      for (const fileName of fileNames) runs.push(observe(fileName));
      await Promise.all(runs);
    },
    idle,
    work: () => ({ snapshotBuilds, changeBatches: feed.batches() }),
  };
}
