import { constants } from 'node:fs';
import { lstat, open } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';
import { sameFingerprint } from '../archive/fingerprint.js';
import type { FileFingerprint } from '../archive/types.js';
import { codeOrMessageOf } from '../errors.js';
import type { PlannedDeletion } from '../retention/types.js';
import { COPY_CHUNK_BYTES } from './directory-target.js';
import { createHashingStream } from './hashing-stream.js';
import { offloadKeyOf } from './layout.js';
import { createRateLimiter, throttle } from './rate-limit.js';
import type { OffloadComposition, OffloadTarget } from './types.js';

/** Failed copies of one archive are retried after 30 s, doubling up to 15 min: a broken target is not hammered. */
export const OFFLOAD_BACKOFF_BASE_MS = 30_000;
export const OFFLOAD_BACKOFF_CAP_MS = 15 * 60_000;
/**
 * Failures in a row after which an archive's offload "keeps failing": the failing gauge and alert
 * count it, and with `--offload-disk-pressure-delete` disk pressure may delete it without a copy.
 */
export const OFFLOAD_FAILURES_BEFORE_FALLBACK = 3;
/** Failure records of archives not asked about for a day are dropped: the archive is gone or no longer selected. */
const FAILURE_MEMORY_MS = 24 * 3600_000;

export type OffloadResult = 'offloaded' | 'failed' | 'backoff';

/** What the executor is told before it verifies and unlinks. */
export type OffloadVerdict =
  | { readonly ok: true; readonly location: string }
  | {
      readonly ok: false;
      readonly reason: string;
      /** True only when the configuration lets this deletion go ahead without a copy (disk pressure, keeps failing, opted in). */
      readonly deleteAnyway: boolean;
    };

export interface OffloadObserver {
  onResult(result: OffloadResult, bytes: number, durationSeconds: number | undefined): void;
  onQueue(waitingOrCopying: number): void;
  onFailing(archives: number): void;
}

export interface OffloaderDeps {
  readonly directory: string;
  readonly node: string;
  readonly target: OffloadTarget;
  /** Copies at once. */
  readonly concurrency: number;
  /** Bytes per second for all copies together; 0: no limit. */
  readonly bandwidthBytesPerSecond: number;
  /** Disk pressure may delete an archive whose offload keeps failing. Default false: it is kept. */
  readonly diskPressureDeletesUnoffloaded: boolean;
  readonly compositionOf?: (deletion: PlannedDeletion) => OffloadComposition | undefined;
  readonly observer: OffloadObserver;
  readonly logger: Logger;
  readonly now: () => number;
}

export interface Offloader {
  readonly description: string;
  /** Where the archive would go: shown by dry run and `plan`; undefined when its identity cannot be a path. */
  locationOf(deletion: PlannedDeletion): string | undefined;
  /** Copies and verifies one archive (waiting for a free copy slot); never throws. */
  offload(deletion: PlannedDeletion): Promise<OffloadVerdict>;
  /** Aborts the copies in flight (each keeps its archive) and refuses new ones. */
  close(): void;
}

interface FailureState {
  failures: number;
  nextAttemptMs: number;
  lastSeenMs: number;
  reason: string;
}

const failureKey = (fingerprint: FileFingerprint, fileName: string): string => `${fingerprint.dev}:${fingerprint.ino}:${fileName}`;

export function createOffloader(deps: OffloaderDeps): Offloader {
  const { target, logger, now, observer } = deps;
  const limiter = createRateLimiter(deps.bandwidthBytesPerSecond);
  const failures = new Map<string, FailureState>();
  const waiting: (() => void)[] = [];
  const abort = new AbortController();
  let active = 0;
  let queued = 0;

  const reportFailing = (): void => observer.onFailing([...failures.values()].filter((f) => f.failures >= OFFLOAD_FAILURES_BEFORE_FALLBACK).length);

  const acquire = async (): Promise<void> => {
    if (active < deps.concurrency) {
      active += 1;
      return;
    }
    await new Promise<void>((resolve) => waiting.push(resolve));
  };
  const release = (): void => {
    const next = waiting.shift();
    if (next) next();
    else active -= 1;
  };

  const keyOf = (deletion: PlannedDeletion): string | undefined => offloadKeyOf(deps.node, deletion.identity, deletion.fileName);

  /** The copy itself: throws with a one-line reason on any failure, leaving nothing under the key. */
  const copy = async (deletion: PlannedDeletion, key: string): Promise<number> => {
    const source = path.join(deps.directory, deletion.fileName);
    // O_NOFOLLOW: a symlink swapped in for the archive is never followed to copy something else.
    const handle = await open(source, constants.O_RDONLY | constants.O_NOFOLLOW);
    try {
      const started = await handle.stat();
      const planned = deletion.fingerprint;
      if (!started.isFile() || !sameFingerprint({ dev: started.dev, ino: started.ino, size: started.size, mtimeMs: started.mtimeMs }, planned)) {
        throw new Error('the archive changed since planning');
      }
      const hashing = createHashingStream(async (copied) => {
        if (copied.size !== planned.size) return `the archive changed while it was copied (read ${copied.size} bytes, ${planned.size} planned)`;
        // The fingerprint the copy started with, both through the open file and by name: the bytes copied
        // are the bytes the executor will unlink.
        const [after, byName] = await Promise.all([handle.stat(), lstat(source)]);
        for (const stats of [after, byName]) {
          if (!sameFingerprint({ dev: stats.dev, ino: stats.ino, size: stats.size, mtimeMs: stats.mtimeMs }, planned)) return 'the archive changed while it was copied';
        }
        return undefined;
      });
      const read = handle.createReadStream({ highWaterMark: COPY_CHUNK_BYTES, autoClose: false });
      const body = deps.bandwidthBytesPerSecond > 0 ? read.pipe(throttle(limiter)).pipe(hashing) : read.pipe(hashing);
      // pipe() does not forward errors: a read error must fail the copy, not hang it.
      read.once('error', (error) => hashing.destroy(error));
      // A target that fails (ENOSPC) destroys what it reads; the file read stops with it.
      hashing.once('close', () => read.destroy());
      const composition = deps.compositionOf?.(deletion);
      await target.put(
        key,
        body,
        () => hashing.copied(),
        (copied) => ({
          version: 1,
          node: deps.node,
          fileName: deletion.fileName,
          identity: deletion.identity ?? null,
          ...(composition !== undefined ? { composition } : {}),
          size: copied.size,
          sha256: copied.sha256,
          mtimeMs: planned.mtimeMs,
          offloadedAt: new Date(now()).toISOString(),
        }),
        abort.signal,
      );
      return hashing.copied().size;
    } finally {
      await handle.close();
    }
  };

  return {
    description: target.description,
    locationOf(deletion) {
      const key = keyOf(deletion);
      return key === undefined ? undefined : target.locationOf(key);
    },
    async offload(deletion) {
      const nowMs = now();
      for (const [key, state] of failures) if (nowMs - state.lastSeenMs > FAILURE_MEMORY_MS) failures.delete(key);
      const stateKey = failureKey(deletion.fingerprint, deletion.fileName);
      const state = failures.get(stateKey);
      const refuse = (reason: string, current: FailureState | undefined): OffloadVerdict => ({
        ok: false,
        reason,
        deleteAnyway: deps.diskPressureDeletesUnoffloaded && deletion.reason === 'disk_pressure' && (current?.failures ?? 0) >= OFFLOAD_FAILURES_BEFORE_FALLBACK,
      });
      if (state) state.lastSeenMs = nowMs;
      if (state && nowMs < state.nextAttemptMs) {
        observer.onResult('backoff', 0, undefined);
        return refuse(`offload failed ${state.failures} time(s) (${state.reason}); next attempt in ${Math.ceil((state.nextAttemptMs - nowMs) / 1000)} s`, state);
      }
      const key = keyOf(deletion);
      if (key === undefined) {
        observer.onResult('failed', 0, undefined);
        return refuse('its identity does not make a storage path', undefined);
      }
      queued += 1;
      observer.onQueue(queued);
      await acquire();
      const startedMs = now();
      try {
        if (abort.signal.aborted) throw new Error('the exporter is stopping');
        const bytes = await copy(deletion, key);
        const seconds = (now() - startedMs) / 1000;
        failures.delete(stateKey);
        reportFailing();
        observer.onResult('offloaded', bytes, seconds);
        const location = target.locationOf(key);
        logger.info({ file: deletion.fileName, bytes, seconds, location }, `offload: copied and verified; offloaded to ${location}`);
        return { ok: true, location };
      } catch (error) {
        const reason = codeOrMessageOf(error);
        const count = (state?.failures ?? 0) + 1;
        const next: FailureState = {
          failures: count,
          nextAttemptMs: now() + Math.min(OFFLOAD_BACKOFF_BASE_MS * 2 ** (count - 1), OFFLOAD_BACKOFF_CAP_MS),
          lastSeenMs: nowMs,
          reason,
        };
        failures.set(stateKey, next);
        reportFailing();
        observer.onResult('failed', 0, (now() - startedMs) / 1000);
        logger.warn({ file: deletion.fileName, reason, failures: count, target: target.description }, 'offload: copy failed; the archive stays on the node');
        return refuse(`offload to ${target.description} failed: ${reason}`, next);
      } finally {
        release();
        queued -= 1;
        observer.onQueue(queued);
      }
    },
    close() {
      abort.abort(new Error('the exporter is stopping'));
    },
  };
}
