import { watch } from 'node:fs';
import { realpath } from 'node:fs/promises';
import { basename } from 'node:path';

export interface WatchEvents {
  /** Something happened to this top-level entry (added, changed, removed): look at it again. */
  entryChanged(fileName: string): void;
  /** The directory itself may have been moved or removed, or events were lost: check it and rescan. */
  directoryChanged(): void;
  error(error: unknown): void;
}

export interface DirectoryWatch {
  close(): Promise<void>;
}

/** Starts watching one directory; resolves once the watch is live. Injected so unit tests drive events by hand. */
export type WatchDirectory = (directory: string, events: WatchEvents) => Promise<DirectoryWatch>;

/**
 * One `fs.watch` on the directory: a single inotify watch, whatever the number of archives. inotify
 * watches are a per-user budget shared with the kubelet and the container runtime, and a watch per
 * file (what chokidar does even at depth 0) costs one per archive. Events are hints: every one is
 * answered with an lstat of the entry, so coalesced, duplicated or reordered events cannot leave the
 * inventory wrong, and events missed entirely are healed by the periodic resync.
 */
export const watchDirectory: WatchDirectory = async (directory, events) => {
  // The checkpoint directory itself may be a symlink (to a bigger disk): watch what it points to.
  // Entries inside are still never followed.
  const watched = await realpath(directory);
  const self = basename(watched);
  const watcher = watch(watched, { persistent: true, encoding: 'utf8' });
  watcher.on('change', (eventType, fileName) => {
    if (fileName === null || fileName === undefined || fileName === '') {
      events.directoryChanged();
      return;
    }
    const name = String(fileName);
    // When the watched directory itself is moved or deleted, the event carries its own name.
    if (eventType === 'rename' && name === self) events.directoryChanged();
    events.entryChanged(name);
  });
  watcher.on('error', (error) => events.error(error));
  return {
    close: async () => {
      watcher.close();
    },
  };
};
