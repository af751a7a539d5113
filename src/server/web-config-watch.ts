import { watch, type FSWatcher } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import type { Result } from '../archive/types.js';
import { loadWebConfig, type LoadedWebConfig } from './web-config.js';

/** Editors, `kubectl cp` and Secret volume updates touch a directory several times per change; one reload follows the burst. */
export const WEB_CONFIG_DEBOUNCE_MS = 200;
/**
 * A new version is applied once two reads this far apart agree: a certificate rotation writes the
 * certificate and the key one after the other, and a reload between the two would see a pair that
 * does not match (refused, but logged as a failure nobody made).
 */
export const WEB_CONFIG_STABILITY_MS = 1000;
/**
 * Directory events are the fast path; this poll is the safety net for what they miss (a symlink
 * whose target changes in a directory nobody watches, a watch the kernel dropped). Reading four
 * small files every few seconds costs nothing measurable.
 */
export const WEB_CONFIG_POLL_MS = 10_000;

export interface WebConfigWatchOptions {
  /** The configuration in force (loaded and validated at start). */
  readonly initial: LoadedWebConfig;
  /** A new good version, or the version in force again after a refused one. */
  onLoad(loaded: LoadedWebConfig): void;
  /** A version was refused (once per distinct outcome); the caller keeps the last good one. */
  onError(reason: string): void;
  /** A reason to refuse a version that is valid alone but cannot replace the one in force (undefined: accept). */
  refuse?(next: LoadedWebConfig): string | undefined;
  readonly logger: Logger;
  readonly debounceMs?: number;
  readonly stabilityMs?: number;
  readonly pollMs?: number;
  readonly delay?: (ms: number) => Promise<void>;
  readonly load?: (file: string) => Promise<Result<LoadedWebConfig>>;
}

export interface WebConfigWatch {
  close(): void;
}

const outcomeOf = (result: Result<LoadedWebConfig>): string => (result.ok ? `ok ${result.value.digest}` : `error ${result.reason}`);

/**
 * Re-reads the web configuration and the files it names whenever one of their directories changes,
 * and every `pollMs`. Directories are watched, not files: a Kubernetes Secret or ConfigMap volume
 * swaps a `..data` symlink and an editor renames a new file over the old one, and a watch on the old
 * file would go quiet after either.
 */
export function watchWebConfig(options: WebConfigWatchOptions): WebConfigWatch {
  const { logger, initial } = options;
  const file = initial.file;
  const debounceMs = options.debounceMs ?? WEB_CONFIG_DEBOUNCE_MS;
  const stabilityMs = options.stabilityMs ?? WEB_CONFIG_STABILITY_MS;
  const delay = options.delay ?? ((ms: number) => sleep(ms));
  const load = options.load ?? loadWebConfig;
  let reported = outcomeOf({ ok: true, value: initial });
  let closed = false;
  let reading = false;
  let again = false;
  let timer: NodeJS.Timeout | undefined;
  const watchers = new Map<string, FSWatcher>();

  const schedule = (): void => {
    if (closed) return;
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => {
      timer = undefined;
      reload().catch((error: unknown) => logger.error({ err: error, path: file }, 'web config reload failed unexpectedly'));
    }, debounceMs);
    timer.unref();
  };

  const watchDirectories = (files: readonly string[]): void => {
    const wanted = new Set(files.map((name) => path.dirname(name)));
    for (const [directory, watcher] of watchers) {
      if (wanted.has(directory)) continue;
      watcher.close();
      watchers.delete(directory);
    }
    for (const directory of wanted) {
      if (watchers.has(directory)) continue;
      try {
        const watcher = watch(directory, { persistent: false }, schedule);
        // The poll still covers a directory whose watch failed.
        watcher.on('error', (error) => logger.warn({ err: error, directory }, 'web config directory watch failed; polling only'));
        watchers.set(directory, watcher);
      } catch (error) {
        logger.warn({ err: error, directory }, 'cannot watch a web config directory; polling only');
      }
    }
  };

  async function reload(): Promise<void> {
    if (reading) {
      again = true;
      return;
    }
    reading = true;
    try {
      do {
        again = false;
        const first = await load(file);
        if (closed) return;
        const outcome = outcomeOf(first);
        if (outcome === reported) continue;
        await delay(stabilityMs);
        if (closed) return;
        const confirm = await load(file);
        if (closed) return;
        if (outcomeOf(confirm) !== outcome) {
          // Still changing: read again from the start.
          again = true;
          continue;
        }
        reported = outcome;
        const refusal = confirm.ok ? options.refuse?.(confirm.value) : undefined;
        if (confirm.ok && refusal === undefined) {
          watchDirectories(confirm.value.files);
          options.onLoad(confirm.value);
        } else {
          options.onError(confirm.ok ? (refusal ?? '') : confirm.reason);
        }
      } while (again && !closed);
    } finally {
      reading = false;
    }
  }

  watchDirectories(initial.files);
  const poll = setInterval(schedule, options.pollMs ?? WEB_CONFIG_POLL_MS);
  poll.unref();

  return {
    close() {
      closed = true;
      if (timer) clearTimeout(timer);
      clearInterval(poll);
      for (const watcher of watchers.values()) watcher.close();
      watchers.clear();
    },
  };
}
