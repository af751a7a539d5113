import { resolve } from 'node:path';
import type { Logger } from 'pino';
import { createInFlight, createWorkQueue } from '../concurrency.js';
import type { ArchiveIndex } from './archive-index.js';
import { buildSnapshot } from './build-snapshot.js';
import { createChangeFeed } from './change-feed.js';
import { createDirectoryAttachment, type AttachmentToken } from './directory-attachment.js';
import { createDirectoryCondition } from './directory-condition.js';
import { isGone, messageOf, probeDirectory } from './directory-io.js';
import { createDirectoryScanner, LSTAT_CONCURRENCY } from './directory-scanner.js';
import { watchDirectory, type WatchDirectory, type WatchEvents } from './directory-watcher.js';
import { createEntryObserver, type IdentifyArchive } from './entry-observer.js';
import type { EntryState } from './entry-state.js';
import { createInitialScan } from './initial-scan.js';
import { createInterner } from './interner.js';
import { createInventoryModel } from './inventory-model.js';
import { systemTimers, type TimerHandle, type Timers } from './timers.js';
import { SCAN_OPERATIONS, type ArchiveRecord, type InventoryChange, type InventorySnapshot, type InventoryStatus, type ScanOperation } from './types.js';

export type { IdentifyArchive } from './entry-observer.js';

export const DEFAULT_SETTLE_TIME_MS = 2_000;
export const DEFAULT_RESYNC_INTERVAL_MS = 300_000;
/**
 * One stat of the directory per interval: it notices a directory replaced or gone, a missing one that
 * appeared, and events the watch lost (the directory's mtime/ctime moved while no event came), so the
 * inventory heals within seconds rather than at the next periodic resync.
 */
export const DEFAULT_DIRECTORY_POLL_INTERVAL_MS = 2_000;

/**
 * Each identity read opens an archive and reads its tar headers. Four matches libuv's default
 * thread pool, so a burst of new archives cannot starve the lstats that keep the inventory current;
 * a reader with a thread of its own (the identity worker) takes more at once, to batch them.
 */
const DEFAULT_IDENTIFY_CONCURRENCY = 4;

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


/**
 * The inventory of one checkpoint directory, wired from parts that each read alone: the directory
 * attachment (stopped, waiting or watching, and the token that tells work started on a directory
 * whether it is still the one watched), its condition (missing or unreadable, and why), the entry
 * observer (one entry: lstat, settle, identity read), the scanner (the whole directory, and the checks
 * for lost events) and the model (entry states, index, counters) that snapshots are built from on
 * demand. What is here: attaching and detaching, the poll and resync timers, and the public face.
 */
export function createInventory(deps: InventoryDeps): Inventory {
  const directory = resolve(deps.directory);
  const { logger } = deps;
  const resyncIntervalMs = deps.resyncIntervalMs ?? DEFAULT_RESYNC_INTERVAL_MS;
  const pollIntervalMs = deps.directoryPollIntervalMs ?? DEFAULT_DIRECTORY_POLL_INTERVAL_MS;
  const now = deps.now ?? Date.now;
  const timers = deps.timers ?? systemTimers;
  const watch = deps.watch === false ? undefined : (deps.watch ?? watchDirectory);
  const model = createInventoryModel();
  const feed = createChangeFeed(() => model.takeChanges(), logger);
  const inFlight = createInFlight((error) => logger.error({ err: error }, 'inventory task failed'));
  const { track, idle } = inFlight;
  // Names shared by many archives (namespaces, pods, containers) are kept once.
  const interner = createInterner();
  const initialScan = createInitialScan();
  const scanErrors = Object.fromEntries(SCAN_OPERATIONS.map((operation) => [operation, 0])) as Record<ScanOperation, number>;
  let cachedSnapshot: InventorySnapshot | undefined;
  let snapshotBuilds = 0;
  let pollTimer: TimerHandle | undefined;
  let resyncTimer: TimerHandle | undefined;
  let attaching: Promise<void> | undefined;

  /** Marks the views stale and schedules one notification for everything changed in this event-loop turn. */
  function changed(everything = false): void {
    cachedSnapshot = undefined;
    feed.changed(everything);
  }

  function commit(fileName: string, next: EntryState | undefined): void {
    model.set(fileName, next);
    changed();
    if (next?.kind === 'pending' || next?.kind === 'identifying') return;
    if (initialScan.settled(fileName)) changed(true);
  }

  const attachment = createDirectoryAttachment((open) => {
    void track(open.close().catch((error: unknown) => logger.warn({ err: error }, 'closing the directory watcher failed')));
  });
  const condition = createDirectoryCondition({ directory, logger, pollIntervalMs, scanErrors, changed: () => changed(true) });
  const observer = createEntryObserver({
    directory,
    identify: deps.identify,
    identifyConcurrency: deps.identifyConcurrency ?? DEFAULT_IDENTIFY_CONCURRENCY,
    settleTimeMs: deps.settleTimeMs ?? DEFAULT_SETTLE_TIME_MS,
    logger,
    now,
    timers,
    attachment,
    model,
    interner,
    lstatQueue: createWorkQueue(LSTAT_CONCURRENCY),
    inFlight,
    scanErrors,
    commit,
    onArchiveSettled: deps.onArchiveSettled,
  });
  const scanner = createDirectoryScanner({
    directory,
    logger,
    now,
    attachment,
    condition,
    initialScan,
    model,
    interner,
    observe: observer.observe,
    changed: () => changed(true),
    lostEventsThreshold: deps.lostEventsThreshold,
    detach,
    reattach: tryAttach,
    armPoll,
  });

  /** Nothing is seen, for a reason that is not "unreadable": nothing is left for the initial scan to wait for. */
  function nothingToWaitFor(): void {
    initialScan.nothingToWaitFor();
    changed(true);
  }

  /** Whatever was known about the directory left is dropped with it. */
  function forget(): void {
    clearTimers();
    model.clear();
  }

  function detach(reason: string): void {
    if (!attachment.detach()) return;
    forget();
    condition.markMissing(reason);
    nothingToWaitFor();
    armPoll();
  }

  /**
   * The directory is there but cannot be watched (EACCES on inotify_add_watch, no watch left): nothing
   * in it can be seen, so nothing is held. The poll tries again.
   */
  function detachUnreadable(operation: ScanOperation, problem: string): void {
    attachment.detach();
    forget();
    condition.setPresent(true);
    condition.markUnreadable(operation, problem);
    nothingToWaitFor();
    armPoll();
  }

  function tryAttach(): Promise<void> {
    attaching ??= attachIfPresent().finally(() => {
      attaching = undefined;
    });
    return attaching;
  }

  async function attachIfPresent(): Promise<void> {
    if (attachment.phase() !== 'waiting') return;
    const probe = await probeDirectory(directory);
    if (attachment.phase() !== 'waiting') return;
    if (!probe.ok) {
      if (probe.gone) condition.markMissing(probe.reason);
      else {
        // What is there is unknown (a parent cannot be searched, EIO): not missing, unreadable.
        condition.setPresent(false);
        condition.markUnreadable('stat', `cannot stat it: ${probe.reason}`);
      }
      nothingToWaitFor();
      armPoll();
      return;
    }
    const token = attachment.attach(probe.value);
    cancelPoll();
    // A directory attached again (recreated, remounted) is rescanned from nothing: until every archive in it
    // has settled the view is partial, exactly as at start, and must not read as complete.
    initialScan.restart();
    model.clear();
    interner.reset();
    condition.setPresent(true);
    scanner.attached(probe.stamp, watch !== undefined);
    changed(true);
    if (watch !== undefined && !(await startWatch(watch, token))) return;
    await scanner.scan(token, 'initial');
    if (!token.current()) return;
    armResync();
    armPoll();
  }

  /** Makes the watch for this attachment; false when the attachment ended meanwhile or no watch could be made. */
  async function startWatch(make: WatchDirectory, token: AttachmentToken): Promise<boolean> {
    try {
      const live = await make(directory, eventsFor(token));
      if (attachment.adopt(token, live)) return true;
      await live.close();
      return false;
    } catch (error) {
      if (!token.current()) return false;
      if (isGone(error)) detach(messageOf(error));
      else detachUnreadable('watch', `cannot watch it: ${messageOf(error)}`);
      return false;
    }
  }

  function eventsFor(token: AttachmentToken): WatchEvents {
    return {
      entryChanged(fileName) {
        if (!token.current()) return;
        scanner.noteEvent();
        void observer.observe(fileName);
      },
      directoryChanged() {
        // The directory itself was moved, removed or chmod'ed: check it now, not at the next poll.
        if (token.current()) void track(scanner.check('directory_event'));
      },
      error(error) {
        logger.warn({ err: error }, 'checkpoint directory watch failed; checking the directory and rescanning');
        if (token.current()) void track(scanner.check('directory_event'));
      },
    };
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
   * it checks the directory is still the one being watched (a watch on a removed directory is dead
   * even when the path is recreated at once) and that no event was lost.
   */
  function armPoll(): void {
    if (watch === undefined) return;
    cancelPoll();
    pollTimer = timers.setTimeout(() => {
      pollTimer = undefined;
      void track(attachment.phase() === 'watching' ? scanner.check() : tryAttach());
    }, pollIntervalMs);
  }

  function cancelPoll(): void {
    if (pollTimer !== undefined) timers.clearTimeout(pollTimer);
    pollTimer = undefined;
  }

  function clearTimers(): void {
    observer.clearTimers();
    cancelPoll();
    if (resyncTimer !== undefined) timers.clearTimeout(resyncTimer);
    resyncTimer = undefined;
  }

  async function resync(): Promise<void> {
    const phase = attachment.phase();
    if (phase === 'stopped') return;
    if (phase === 'waiting') await tryAttach();
    else if ((await scanner.scan(attachment.token(), 'periodic')) === 'detached') await tryAttach();
    else if (attachment.phase() === 'watching') armResync();
    if (attachment.phase() === 'stopped' || deps.onResync === undefined) return;
    try {
      deps.onResync();
    } catch (error) {
      logger.error({ err: error }, 'onResync threw');
    }
  }

  function snapshot(): InventorySnapshot {
    if (cachedSnapshot === undefined) {
      snapshotBuilds += 1;
      cachedSnapshot = buildSnapshot(model, {
        directory,
        directoryPresent: condition.present,
        directoryIdentity: condition.present ? attachment.identity() : undefined,
        initialScanComplete: initialScan.complete(),
        lastScanTimestampMs: scanner.lastScanTimestampMs,
        lastScanDurationSeconds: scanner.lastScanDurationSeconds,
      });
    }
    return cachedSnapshot;
  }

  function status(): InventoryStatus {
    return {
      directory,
      directoryPresent: condition.present,
      directoryIdentity: condition.present ? attachment.identity() : undefined,
      directoryReadable: condition.readable,
      directoryProblem: condition.problem,
      initialScanComplete: initialScan.complete(),
      archives: model.index.size,
      identifiedBytes: model.identifiedBytes,
      unidentifiedArchives: model.index.unidentified.size,
      unidentifiedBytes: model.unidentifiedBytes,
      unrecognizedFiles: model.unrecognized.size,
      unrecognizedBytes: model.unrecognizedBytes,
      hardLinkedArchives: model.hardLinkedArchives,
      hardLinkedBytes: model.hardLinkedBytes,
      pendingArchives: model.pendingArchives,
      lastScanTimestampMs: scanner.lastScanTimestampMs,
      lastScanDurationSeconds: scanner.lastScanDurationSeconds,
      scanErrors: { ...scanErrors },
      resyncs: { ...scanner.resyncs },
    };
  }

  return {
    async start() {
      attachment.start();
      await track(tryAttach());
    },
    async stop() {
      if (!attachment.stop()) return;
      clearTimers();
      feed.cancel();
      await idle();
    },
    snapshot,
    index: () => model.index,
    status,
    subscribe: (listener) => feed.subscribe(listener),
    resync: () => track(resync()),
    async refresh(fileNames) {
      if (attachment.phase() !== 'watching') return;
      const runs: Promise<void>[] = [];
      for (const fileName of fileNames) runs.push(observer.observe(fileName));
      await Promise.all(runs);
    },
    idle,
    work: () => ({ snapshotBuilds, changeBatches: feed.batches() }),
  };
}
