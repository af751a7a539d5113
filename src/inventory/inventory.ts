import { resolve } from 'node:path';
import type { Logger } from 'pino';
import { createInFlight, createWorkQueue, type InFlight } from '../concurrency.js';
import { DEFAULT_DIRECTORY_POLL_INTERVAL_MS, DEFAULT_RESYNC_INTERVAL_MS, DEFAULT_SETTLE_TIME_MS } from '../defaults.js';
import type { ArchiveIndex } from './archive-index.js';
import { buildSnapshot } from './build-snapshot.js';
import { createChangeFeed } from './change-feed.js';
import { createDirectoryAttachment, type DirectoryAttachment } from './directory-attachment.js';
import { createDirectoryCondition, type DirectoryCondition } from './directory-condition.js';
import { createDirectoryLifecycle } from './directory-lifecycle.js';
import { createDirectoryScanner, LSTAT_CONCURRENCY, type DirectoryScanner } from './directory-scanner.js';
import { watchDirectory, type WatchDirectory } from './directory-watcher.js';
import type { IdentifyArchive } from './archive-identifier.js';
import type { ArchiveNaming } from './classify-entry.js';
import { createEntryObserver } from './entry-observer.js';
import type { EntryState } from './entry-state.js';
import { createInitialScan, type InitialScan } from './initial-scan.js';
import { createInterner, type Interner } from './interner.js';
import { createInventoryModel, type InventoryModel } from './inventory-model.js';
import { systemTimers, type Timers } from './timers.js';
import { SCAN_OPERATIONS, type ArchiveRecord, type InventoryChange, type InventorySnapshot, type InventoryStatus, type ScanOperation } from './types.js';

export type { IdentifyArchive } from './archive-identifier.js';

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
  /** Which names are archives and pins (default: container archives'; the pod checkpoint directory has its own). */
  readonly naming?: ArchiveNaming;
  /** A missing directory is normal, said at info rather than warn (the pod checkpoint directory). */
  readonly missingIsNormal?: boolean;
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
 * demand, and the lifecycle (attaching, detaching, the poll and resync timers). What is here: the
 * wiring, and the public face.
 */
export function createInventory(deps: InventoryDeps): Inventory {
  const directory = resolve(deps.directory);
  const { logger } = deps;
  const model = createInventoryModel(deps.naming?.pinTargetOf);
  const feed = createChangeFeed(() => model.takeChanges(), logger);
  const inFlight = createInFlight((error) => logger.error({ err: error }, 'inventory task failed'));
  const { track, idle } = inFlight;
  // Names shared by many archives (namespaces, pods, containers) are kept once.
  const interner = createInterner();
  const initialScan = createInitialScan();
  const scanErrors = Object.fromEntries(SCAN_OPERATIONS.map((operation) => [operation, 0])) as Record<ScanOperation, number>;
  let cachedSnapshot: InventorySnapshot | undefined;
  let snapshotBuilds = 0;

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

  const { attachment, condition, scanner, lifecycle, observe } = assemble(deps, { directory, model, interner, initialScan, inFlight, scanErrors, changed: () => changed(true), commit });

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

  return {
    async start() {
      attachment.start();
      await track(lifecycle.tryAttach());
    },
    async stop() {
      if (!attachment.stop()) return;
      lifecycle.clearTimers();
      feed.cancel();
      await idle();
    },
    snapshot,
    index: () => model.index,
    status: () => statusOf(directory, model, condition, attachment, initialScan, scanner, scanErrors),
    subscribe: (listener) => feed.subscribe(listener),
    resync: () => track(lifecycle.resync()),
    async refresh(fileNames) {
      if (attachment.phase() !== 'watching') return;
      const runs: Promise<void>[] = [];
      for (const fileName of fileNames) runs.push(observe(fileName));
      await Promise.all(runs);
    },
    idle,
    work: () => ({ snapshotBuilds, changeBatches: feed.batches() }),
  };
}

/** What the parts share with the facade. */
interface Shared {
  readonly directory: string;
  readonly model: InventoryModel;
  readonly interner: Interner;
  readonly initialScan: InitialScan;
  readonly inFlight: InFlight;
  readonly scanErrors: Record<ScanOperation, number>;
  /** Marks the whole view changed. */
  readonly changed: () => void;
  readonly commit: (fileName: string, next: EntryState | undefined) => void;
}

/** Makes the parts and wires them to each other. */
function assemble(deps: InventoryDeps, shared: Shared) {
  const { directory, model, interner, initialScan, inFlight, scanErrors } = shared;
  const { logger } = deps;
  const { track } = inFlight;
  const pollIntervalMs = deps.directoryPollIntervalMs ?? DEFAULT_DIRECTORY_POLL_INTERVAL_MS;
  const now = deps.now ?? Date.now;
  const timers = deps.timers ?? systemTimers;
  const attachment = createDirectoryAttachment((open) => {
    void track(open.close().catch((error: unknown) => logger.warn({ err: error }, 'closing the directory watcher failed')));
  });
  const condition = createDirectoryCondition({ directory, logger, pollIntervalMs, scanErrors, changed: shared.changed, missingIsNormal: deps.missingIsNormal });
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
    commit: shared.commit,
    onArchiveSettled: deps.onArchiveSettled,
    naming: deps.naming,
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
    changed: shared.changed,
    lostEventsThreshold: deps.lostEventsThreshold,
    // The lifecycle is made below; these run only once the inventory has started.
    detach: (reason) => lifecycle.detach(reason),
    reattach: () => lifecycle.tryAttach(),
    armPoll: () => lifecycle.armPoll(),
  });
  const lifecycle = createDirectoryLifecycle({
    directory,
    logger,
    timers,
    watch: deps.watch === false ? undefined : (deps.watch ?? watchDirectory),
    pollIntervalMs,
    resyncIntervalMs: deps.resyncIntervalMs ?? DEFAULT_RESYNC_INTERVAL_MS,
    attachment,
    condition,
    observer,
    scanner,
    model,
    interner,
    initialScan,
    inFlight,
    changed: shared.changed,
    onResync: deps.onResync,
  });
  return { attachment, condition, scanner, lifecycle, observe: observer.observe };
}

function statusOf(
  directory: string,
  model: InventoryModel,
  condition: DirectoryCondition,
  attachment: DirectoryAttachment,
  initialScan: InitialScan,
  scanner: DirectoryScanner,
  scanErrors: Record<ScanOperation, number>,
): InventoryStatus {
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
