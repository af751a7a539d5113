import { statSync, watch, type FSWatcher } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { Logger } from 'pino';
import { DEFAULT_DIRECTORY_POLL_INTERVAL_MS } from '../defaults.js';
import { codeOrMessageOf, isGone } from '../errors.js';

export interface PolicyDirectoryWatchOptions {
  /** The policy file, for the log lines. */
  readonly file: string;
  readonly logger: Logger;
  /** Something in the directory may have changed, or the directory went away or came back: read the file again. */
  onChange(): void;
  /** The watch failed; the caller reports it as it reports a failed load, and reads the file afresh once watching again. */
  onWatchLost(reason: string): void;
  readonly pollIntervalMs?: number;
}

export interface PolicyDirectoryWatch {
  close(): void;
}

type Condition = 'watching' | 'gone' | 'unwatchable';

/**
 * A watch on the policy file's directory that survives the directory going away. A watch on a removed
 * directory goes quiet without an error, and one on a directory replaced under the same path (a
 * ConfigMap volume remounted, `rm -r` then `mkdir`) watches the old, empty inode; so the directory is
 * stat'ed every `pollIntervalMs`, as the checkpoint directory is, and the watch is made again on the
 * directory that is there now. Going away and coming back are logged once each.
 */
export function watchPolicyDirectory(directory: string, options: PolicyDirectoryWatchOptions): PolicyDirectoryWatch {
  const { file, logger, onChange, onWatchLost } = options;
  let watcher: FSWatcher | undefined;
  let identity: { readonly dev: number; readonly ino: number } | undefined;
  let condition: Condition = 'watching';
  let closed = false;
  let polling = false;

  const detach = (): void => {
    watcher?.close();
    watcher = undefined;
    identity = undefined;
  };

  /** stat before watch: a directory swapped in between is watched under the old identity, and the next poll makes the watch again. */
  const attach = (): { ok: true } | { ok: false; error: unknown } => {
    try {
      const stats = statSync(directory);
      const made = watch(directory, { persistent: false }, onChange);
      made.on('error', (error) => {
        if (watcher !== made) return;
        detach();
        condition = 'unwatchable';
        const reason = `watching the policy directory failed: ${codeOrMessageOf(error)}`;
        logger.error({ path: file, reason }, 'policy file is no longer watched; trying again every poll');
        onWatchLost(reason);
      });
      watcher = made;
      identity = { dev: stats.dev, ino: stats.ino };
      return { ok: true };
    } catch (error) {
      return { ok: false, error };
    }
  };

  const lose = (error: unknown): void => {
    detach();
    const next: Condition = isGone(error) ? 'gone' : 'unwatchable';
    if (next === condition) return;
    condition = next;
    if (next === 'gone') logger.warn({ path: file, directory }, 'policy directory is gone; keeping the last good policy until it comes back');
    else logger.error({ path: file, reason: `cannot watch the policy directory: ${codeOrMessageOf(error)}` }, 'policy file is not watched; trying again every poll');
    onChange();
  };

  const poll = async (): Promise<void> => {
    if (polling || closed) return;
    polling = true;
    try {
      let stats;
      try {
        stats = await stat(directory);
      } catch (error) {
        if (!closed) lose(error);
        return;
      }
      if (closed || (watcher !== undefined && stats.dev === identity?.dev && stats.ino === identity.ino)) return;
      const replaced = watcher !== undefined;
      detach();
      const attached = attach();
      if (!attached.ok) {
        lose(attached.error);
        return;
      }
      if (condition !== 'watching') logger.info({ path: file, directory }, 'policy directory is back; watching it again');
      else if (replaced) logger.info({ path: file, directory }, 'policy directory was replaced; watching the new one');
      condition = 'watching';
      onChange();
    } finally {
      polling = false;
    }
  };

  const first = attach();
  if (!first.ok) {
    condition = isGone(first.error) ? 'gone' : 'unwatchable';
    const reason = `cannot watch the policy directory: ${codeOrMessageOf(first.error)}`;
    logger.error({ path: file, reason }, 'policy file is not watched; trying again every poll');
    queueMicrotask(() => onWatchLost(reason));
  }
  const timer = setInterval(() => {
    poll().catch((error: unknown) => logger.error({ path: file, reason: codeOrMessageOf(error) }, 'policy directory poll failed'));
  }, options.pollIntervalMs ?? DEFAULT_DIRECTORY_POLL_INTERVAL_MS);
  timer.unref();

  return {
    close() {
      closed = true;
      clearInterval(timer);
      detach();
    },
  };
}
