import type { Logger } from 'pino';
import type { InFlight } from '../concurrency.js';
import type { AttachmentToken, DirectoryAttachment } from './directory-attachment.js';
import type { DirectoryCondition } from './directory-condition.js';
import { isGone, messageOf } from '../errors.js';
import { probeDirectory } from './directory-io.js';
import type { DirectoryScanner } from './directory-scanner.js';
import type { WatchDirectory, WatchEvents } from './directory-watcher.js';
import type { EntryObserver } from './entry-observer.js';
import type { InitialScan } from './initial-scan.js';
import type { Interner } from './interner.js';
import type { InventoryModel } from './inventory-model.js';
import type { TimerHandle, Timers } from './timers.js';
import type { ScanOperation } from './types.js';

/**
 * Attaching to the directory and detaching from it, and the timers that keep it honest: a poll (look
 * for a missing directory; check the one watched is still there, readable, and lost no events) and the
 * periodic resync. Attaching starts from nothing: the model is cleared, a watch is made, and the first
 * full scan runs under the new attachment's token.
 */
export interface DirectoryLifecycle {
  /** Attaches if the directory is there (at most one attempt at a time). */
  tryAttach(): Promise<void>;
  /** The directory is gone or another one: drop what was known of it and wait for it. */
  detach(reason: string): void;
  armPoll(): void;
  /** A full scan now (or an attempt to attach while waiting), then `onResync`. */
  resync(): Promise<void>;
  clearTimers(): void;
}

export interface DirectoryLifecycleDeps {
  readonly directory: string;
  readonly logger: Logger;
  readonly timers: Timers;
  /** Undefined for a one-shot inventory: no watch, no poll, no periodic resync. */
  readonly watch: WatchDirectory | undefined;
  readonly pollIntervalMs: number;
  readonly resyncIntervalMs: number;
  readonly attachment: DirectoryAttachment;
  readonly condition: DirectoryCondition;
  readonly observer: EntryObserver;
  readonly scanner: DirectoryScanner;
  readonly model: InventoryModel;
  readonly interner: Interner;
  readonly initialScan: InitialScan;
  readonly inFlight: InFlight;
  /** Marks the whole view changed. */
  readonly changed: () => void;
  readonly onResync: (() => void) | undefined;
}

export function createDirectoryLifecycle(deps: DirectoryLifecycleDeps): DirectoryLifecycle {
  const { directory, logger, timers, watch, attachment, condition, observer, scanner, model, interner, initialScan, onResync } = deps;
  const { track } = deps.inFlight;
  let pollTimer: TimerHandle | undefined;
  let resyncTimer: TimerHandle | undefined;
  let attaching: Promise<void> | undefined;

  /** Nothing is seen, for a reason that is not "unreadable": nothing is left for the initial scan to wait for. */
  function nothingToWaitFor(): void {
    initialScan.nothingToWaitFor();
    deps.changed();
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
    deps.changed();
    if (watch !== undefined && !(await startWatch(watch, token))) return;
    await scanner.scan(token, 'initial');
    if (!token.current()) return;
    armResync();
    armPoll();
  }

  /** Makes the watch for this attachment; false when the attachment ended meanwhile or no watch could be made. */
  async function startWatch(make: WatchDirectory, token: AttachmentToken): Promise<boolean> {
    try {
      const live = await make(directory, watchEventsFor(token, deps));
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

  function armResync(): void {
    if (watch === undefined) return;
    if (resyncTimer !== undefined) timers.clearTimeout(resyncTimer);
    resyncTimer = timers.setTimeout(() => {
      resyncTimer = undefined;
      void track(resync());
    }, deps.resyncIntervalMs);
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
    }, deps.pollIntervalMs);
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
    if (attachment.phase() === 'stopped' || onResync === undefined) return;
    try {
      onResync();
    } catch (error) {
      logger.error({ err: error }, 'onResync threw');
    }
  }

  return { tryAttach, detach, armPoll, resync, clearTimers };
}

/** What the watch's events do while its attachment lasts: an entry is looked at, the directory checked. */
function watchEventsFor(token: AttachmentToken, { scanner, observer, inFlight, logger }: DirectoryLifecycleDeps): WatchEvents {
  return {
    entryChanged(fileName) {
      if (!token.current()) return;
      scanner.noteEvent();
      void observer.observe(fileName);
    },
    directoryChanged() {
      // The directory itself was moved, removed or chmod'ed: check it now, not at the next poll.
      if (token.current()) void inFlight.track(scanner.check('directory_event'));
    },
    error(error) {
      logger.warn({ err: error }, 'checkpoint directory watch failed; checking the directory and rescanning');
      if (token.current()) void inFlight.track(scanner.check('directory_event'));
    },
  };
}
