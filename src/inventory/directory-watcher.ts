import { watch } from 'chokidar';
import { realpath } from 'node:fs/promises';
import { basename, dirname } from 'node:path';

export interface WatchEvents {
  /** Something happened to this top-level entry (added, changed, removed): look at it again. */
  entryChanged(fileName: string): void;
  /** The watched directory itself was removed. */
  directoryGone(): void;
  error(error: unknown): void;
}

export interface DirectoryWatch {
  close(): Promise<void>;
}

/** Starts watching one directory; resolves once the watcher is live. Injected so unit tests drive events by hand. */
export type WatchDirectory = (directory: string, events: WatchEvents) => Promise<DirectoryWatch>;

/**
 * chokidar on the top level only. Events are hints: every one is answered with an lstat of the
 * entry, so coalesced, duplicated or reordered events cannot leave the inventory wrong, and events
 * missed entirely are healed by the periodic resync. ignoreInitial because the inventory does its
 * own initial scan after the watcher is live, which leaves no window for a missed entry.
 */
export const watchDirectory: WatchDirectory = async (directory, events) => {
  // The checkpoint directory itself may be a symlink (to a bigger disk); with followSymlinks off chokidar
  // would watch the link and report nothing inside it. Entries inside are still never followed.
  const watched = await realpath(directory);
  const watcher = watch(watched, { depth: 0, followSymlinks: false, ignoreInitial: true, persistent: true });
  const onEntry = (path: string): void => {
    if (dirname(path) === watched) events.entryChanged(basename(path));
  };
  watcher.on('add', onEntry);
  watcher.on('change', onEntry);
  watcher.on('unlink', onEntry);
  watcher.on('addDir', (path) => {
    if (path !== watched) onEntry(path);
  });
  watcher.on('unlinkDir', (path) => {
    if (path === watched) events.directoryGone();
    else onEntry(path);
  });
  watcher.on('error', (error) => events.error(error));
  await new Promise<void>((resolve) => watcher.once('ready', () => resolve()));
  return { close: () => watcher.close() };
};
