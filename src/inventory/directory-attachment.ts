import type { DirectoryIdentity } from './directory-io.js';
import type { DirectoryWatch } from './directory-watcher.js';

/**
 * Whether the inventory is attached to its directory: stopped (not started, or stopped), waiting (the
 * directory is missing or cannot be read; a poll looks again) or watching one directory, identified by
 * device and inode. A directory removed and recreated is another directory: the inventory detaches
 * and attaches again, and everything it knew is dropped.
 *
 *   stopped --start--> waiting --attach--> watching --detach--> waiting
 *      ^                  |                   |
 *      +------stop--------+-------stop--------+
 */
export type AttachmentPhase = 'stopped' | 'waiting' | 'watching';

/**
 * Handed out by `attach()`: current while that attachment lasts. Work started under it (an lstat, an
 * identity read, a scan, a watch event) checks it when its I/O returns and drops the result if the
 * directory was detached or swapped meanwhile, so nothing learnt about one directory lands in the
 * view of the next.
 */
export interface AttachmentToken {
  current(): boolean;
}

export interface DirectoryAttachment {
  /** A method, not a field: it changes across every await, so no caller may keep it narrowed. */
  phase(): AttachmentPhase;
  /** The token of the attachment in force; while not watching, one that is never current. */
  token(): AttachmentToken;
  /** The directory last attached to (kept after a detach: the status reports it for an unreadable one). */
  identity(): DirectoryIdentity | undefined;
  /** Whether `identity` is the directory attached to: a path now leading elsewhere means the watch is dead. */
  isAttachedTo(identity: DirectoryIdentity): boolean;
  /** stopped → waiting. */
  start(): void;
  /** waiting → watching, on this directory. */
  attach(identity: DirectoryIdentity): AttachmentToken;
  /** Keeps the watch made under `token`, closed at the next detach or stop; false (keep nothing) when the token is stale. */
  adopt(token: AttachmentToken, watch: DirectoryWatch): boolean;
  /** watching → waiting; false when not watching. Every token handed out so far stops being current. */
  detach(): boolean;
  /** Any phase → stopped; false when already stopped. */
  stop(): boolean;
}

const NEVER_CURRENT: AttachmentToken = Object.freeze({ current: () => false });

/** `closeWatch` is given each adopted watch when its attachment ends. */
export function createDirectoryAttachment(closeWatch: (watch: DirectoryWatch) => void): DirectoryAttachment {
  let phase: AttachmentPhase = 'stopped';
  let active: AttachmentToken = NEVER_CURRENT;
  let identity: DirectoryIdentity | undefined;
  let watch: DirectoryWatch | undefined;

  /** Leaves the current attachment: its token goes stale and its watch is closed. */
  function end(next: AttachmentPhase): void {
    phase = next;
    active = NEVER_CURRENT;
    const open = watch;
    watch = undefined;
    if (open !== undefined) closeWatch(open);
  }

  return {
    phase: () => phase,
    token: () => active,
    identity: () => identity,
    isAttachedTo: (other) => identity !== undefined && other.dev === identity.dev && other.ino === identity.ino,
    start() {
      if (phase !== 'stopped') throw new Error('inventory already started');
      phase = 'waiting';
    },
    attach(directory) {
      if (phase !== 'waiting') throw new Error(`cannot attach while ${phase}`);
      phase = 'watching';
      // Frozen: snapshots hand this very object out.
      identity = Object.freeze({ dev: directory.dev, ino: directory.ino });
      const token: AttachmentToken = { current: () => active === token };
      active = token;
      return token;
    },
    adopt(token, made) {
      if (!token.current()) return false;
      watch = made;
      return true;
    },
    detach() {
      if (phase !== 'watching') return false;
      end('waiting');
      return true;
    },
    stop() {
      if (phase === 'stopped') return false;
      end('stopped');
      return true;
    },
  };
}
