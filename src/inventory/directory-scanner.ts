import { readFileSync } from 'node:fs';
import type { Logger } from 'pino';
import { forEachConcurrent } from '../concurrency.js';
import type { DirectoryAttachment, AttachmentToken } from './directory-attachment.js';
import type { DirectoryCondition } from './directory-condition.js';
import { listDirectory, probeDirectory, type ProbeResult } from './directory-io.js';
import type { InitialScan } from './initial-scan.js';
import type { Interner } from './interner.js';
import type { InventoryModel } from './inventory-model.js';
import { RESYNC_REASONS, type ResyncReason } from './types.js';

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

/** lstats in flight at once (scans and settle checks alike): enough to keep the thread pool busy, bounded so 100,000 entries do not become 100,000 pending requests. */
export const LSTAT_CONCURRENCY = 64;

export type ScanOutcome = 'scanned' | 'detached' | 'abandoned';

/**
 * The whole directory at once: a full scan (readdir, then an lstat of every entry listed or held),
 * and the poll that decides when one is needed beyond the periodic resync: the directory replaced,
 * unreadable until now, or events lost (a burst as long as the kernel's queue, or the directory's
 * mtime/ctime moving while no event came).
 */
export interface DirectoryScanner {
  scan(token: AttachmentToken, reason: ResyncReason): Promise<ScanOutcome>;
  /** The poll while watching; `forced` rescans whatever the probe says (an event on the directory itself). */
  check(forced?: ResyncReason): Promise<void>;
  /** A watch event for an entry: counted towards the lost-event checks. */
  noteEvent(): void;
  /** A directory was attached with this mtime/ctime stamp; a watch on it is about to be made. */
  attached(stamp: string, watched: boolean): void;
  readonly resyncs: Readonly<Record<ResyncReason, number>>;
  readonly lastScanTimestampMs: number | undefined;
  readonly lastScanDurationSeconds: number | undefined;
}

export interface DirectoryScannerDeps {
  readonly directory: string;
  readonly logger: Logger;
  readonly now: () => number;
  readonly attachment: DirectoryAttachment;
  readonly condition: DirectoryCondition;
  readonly initialScan: InitialScan;
  readonly model: InventoryModel;
  readonly interner: Interner;
  readonly observe: (fileName: string) => Promise<void>;
  /** Marks the whole view changed. */
  readonly changed: () => void;
  /** Events within one poll interval from which lost events are suspected (default: half the kernel's inotify queue length). */
  readonly lostEventsThreshold: number | undefined;
  /** The directory is gone or another one: detach from it (attach again is `reattach`). */
  readonly detach: (reason: string) => void;
  readonly reattach: () => Promise<void>;
  readonly armPoll: () => void;
}

export function createDirectoryScanner(deps: DirectoryScannerDeps): DirectoryScanner {
  const { directory, logger, attachment, condition, model } = deps;
  const resyncs = Object.fromEntries(RESYNC_REASONS.map((reason) => [reason, 0])) as Record<ResyncReason, number>;
  let lostEventsThreshold = deps.lostEventsThreshold;
  // The directory's mtime/ctime at the last poll, and watch events since: a stamp that moved with no event is a lost event.
  let lastStamp: string | undefined;
  let eventsSincePoll = 0;
  let lastScanTimestampMs: number | undefined;
  let lastScanDurationSeconds: number | undefined;

  /** Gone, or replaced by another directory the watcher does not see: the reason to detach, else undefined. */
  function goneReason(probe: ProbeResult): string | undefined {
    if (probe.ok) return attachment.isAttachedTo(probe.value) ? undefined : 'replaced by another directory';
    return probe.reason;
  }

  async function scan(token: AttachmentToken, reason: ResyncReason): Promise<ScanOutcome> {
    const startedMs = deps.now();
    resyncs[reason] += 1;
    // Start the pools afresh at every scan, so names of containers long gone do not pile up.
    deps.interner.reset();
    const probe = await probeDirectory(directory);
    if (!token.current() || condition.unreadable(probe)) return 'abandoned';
    const gone = goneReason(probe);
    if (gone !== undefined) {
      // Start over on whatever is there now.
      deps.detach(gone);
      return 'detached';
    }
    const listing = await listDirectory(directory);
    if (!token.current()) return 'abandoned';
    if (!listing.ok) {
      if (!listing.reason.gone) {
        condition.markUnreadable('readdir', `cannot list it: ${listing.reason.message}`);
        return 'abandoned';
      }
      deps.detach(listing.reason.message);
      return 'detached';
    }
    condition.markReadable();
    const names = new Set(listing.value);
    // Entries readdir no longer lists are lstat'ed rather than dropped: one may have been created after readdir ran.
    for (const fileName of model.names()) names.add(fileName);
    await forEachConcurrent([...names], LSTAT_CONCURRENCY, deps.observe, () => token.current());
    if (!token.current()) return 'abandoned';
    deps.initialScan.scanned(model.unsettledNames());
    const finishedMs = deps.now();
    lastScanTimestampMs = finishedMs;
    lastScanDurationSeconds = (finishedMs - startedMs) / 1000;
    deps.changed();
    return 'scanned';
  }

  /** Why to rescan after a poll found the directory in place, or undefined. */
  function rescanReason(events: number, moved: boolean): ResyncReason | undefined {
    if (!condition.readable) return 'unreadable_retry';
    if (events >= (lostEventsThreshold ?? Number.POSITIVE_INFINITY)) {
      logger.info({ directory, events }, 'a burst of directory events may have overflowed the kernel queue; rescanning');
      return 'events_lost';
    }
    if (moved && events === 0) {
      logger.warn({ directory }, 'the checkpoint directory changed without a watch event (events lost); rescanning');
      return 'unreported_change';
    }
    return undefined;
  }

  async function check(forced?: ResyncReason): Promise<void> {
    const token = attachment.token();
    const events = eventsSincePoll;
    eventsSincePoll = 0;
    const probe = await probeDirectory(directory);
    if (!token.current()) return;
    if (condition.unreadable(probe)) {
      deps.armPoll();
      return;
    }
    const gone = goneReason(probe);
    if (gone !== undefined) {
      deps.detach(gone);
      await deps.reattach();
      return;
    }
    const stamp = probe.ok ? probe.stamp : undefined;
    const moved = lastStamp !== undefined && stamp !== lastStamp;
    lastStamp = stamp;
    const reason = forced ?? rescanReason(events, moved);
    if (reason !== undefined && (await scan(token, reason)) === 'detached') await deps.reattach();
    if (token.current()) deps.armPoll();
  }

  return {
    scan,
    check,
    noteEvent() {
      eventsSincePoll += 1;
    },
    attached(stamp, watched) {
      lastStamp = stamp;
      eventsSincePoll = 0;
      // Read when the first watch is made, as the kernel reads it when the process's inotify instance is made.
      if (watched) lostEventsThreshold ??= overflowSuspicionThreshold();
    },
    resyncs,
    get lastScanTimestampMs() {
      return lastScanTimestampMs;
    },
    get lastScanDurationSeconds() {
      return lastScanDurationSeconds;
    },
  };
}
