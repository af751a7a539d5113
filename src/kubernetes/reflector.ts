import type { KubeConfig } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { describeApiError } from './api-error.js';
import { backoffDelayMs, type BackoffOptions, type DelayFn } from './backoff.js';
import { createReflectorHealth, type ReflectorStatus } from './reflector-health.js';
import { createReflectorStore } from './reflector-store.js';
import { watchOnce, type WatchOutcome } from './watch-once.js';

/** A dead watch is noticed within about two minutes, far inside any sensible orphan grace period. */
export const DEFAULT_WATCH_TIMEOUT_SECONDS = 120;
/** Slack for a server that closes a little late under load before the watch is declared dead. */
export const DEFAULT_WATCH_GRACE_MS = 15_000;

export interface ListResult {
  readonly items: readonly unknown[];
  readonly resourceVersion: string;
}

export interface ReflectorOptions<T> {
  /** For log lines, e.g. `pods on node worker-1`. */
  readonly name: string;
  readonly kubeConfig: KubeConfig;
  /** The collection path the watch streams from, e.g. `/api/v1/pods`. */
  readonly watchPath: string;
  readonly fieldSelector?: string | undefined;
  /** One list call, bounded in time by the caller and cancelled by `signal`. */
  readonly list: (signal: AbortSignal) => Promise<ListResult>;
  readonly keyOf: (object: unknown) => string | undefined;
  /** The part of an object worth keeping; undefined drops it. */
  readonly project: (object: unknown) => T | undefined;
  /**
   * True for a list error meaning "this resource type is not served" (e.g. CRD not installed). Believed only
   * while the store is empty; with objects known it is a failure like any other and the store is kept.
   */
  readonly isAbsent?: (error: unknown) => boolean;
  readonly absentRetryMs?: number;
  readonly onStoreChange?: (store: ReadonlyMap<string, T>) => void;
  readonly onHealthChange?: (healthy: boolean) => void;
  readonly logger: Logger;
  readonly delay: DelayFn;
  readonly backoff: BackoffOptions;
  /** Sent as the watch's timeoutSeconds: the server ends a healthy watch after this long. */
  readonly watchTimeoutSeconds: number;
  /** How long past timeoutSeconds a watch may stay open before it is declared dead. */
  readonly watchGraceMs: number;
}

export interface Reflector<T> {
  start(): void;
  stop(): Promise<void>;
  healthy(): boolean;
  status(): ReflectorStatus;
  store(): ReadonlyMap<string, T>;
}

/** Retry state of one run of the loop: the backoff attempt, 410s in a row, and the wait that `stop` cuts short. */
interface Pacing {
  attempt: number;
  consecutiveExpiries: number;
  pause(ms: number): Promise<void>;
}

/**
 * A list-then-watch loop over one collection, keeping a projected cache (reflector-store.ts) and its
 * health (reflector-health.ts); one watch at a time is watch-once.ts. A 410 relists; any other failure
 * backs off (capped) and relists, so whatever a dead watch missed is in the cache again.
 */
export function createReflector<T>(options: ReflectorOptions<T>): Reflector<T> {
  const { logger, backoff } = options;
  const store = createReflectorStore(options);
  const health = createReflectorHealth({ name: options.name, logger, onHealthChange: options.onHealthChange });
  let controller: AbortController | undefined;
  let running: Promise<void> | undefined;

  const backOff = (pacing: Pacing): Promise<void> => pacing.pause(backoffDelayMs(pacing.attempt++, backoff));

  const listFailed = async (error: unknown, pacing: Pacing): Promise<void> => {
    const absent = options.isAbsent?.(error) === true;
    if (absent && store.current().size > 0) {
      // Objects only leave by DELETED events or a successful relist: the API removes every object (and says
      // so on the watch) before it stops serving their type, so "not served" while some are known is doubt.
      health.fail(`list says the resource type is not served while ${store.current().size} objects are known; keeping them: ${describeApiError(error)}`, 'list');
      await backOff(pacing);
    } else if (absent) {
      if (health.markAbsent()) {
        logger.warn({ watch: options.name, retryMs: options.absentRetryMs }, 'resource type not served by the API; retrying slowly');
        store.emit();
      }
      await pacing.pause(options.absentRetryMs ?? backoff.maxMs);
    } else {
      health.fail(`list failed: ${describeApiError(error)}`, 'list');
      await backOff(pacing);
    }
  };

  /** One list into the store: the version to watch from, or undefined after a failure (already waited out) or a stop. */
  const list = async (signal: AbortSignal, pacing: Pacing): Promise<string | undefined> => {
    let listed: ListResult;
    try {
      listed = await options.list(signal);
    } catch (error) {
      if (!signal.aborted) await listFailed(error, pacing);
      return undefined;
    }
    if (signal.aborted) return undefined;
    health.listed(() => store.replace(listed.items));
    store.emit();
    return listed.resourceVersion;
  };

  const onWatchEvent = (type: string, object: unknown): void => {
    health.recover('watch');
    if (type === 'ADDED' || type === 'MODIFIED' || type === 'DELETED') store.apply(type, object);
  };

  /** How a watch ended decides what comes next: resume from its last version, or (undefined) relist. */
  const afterWatch = async (outcome: Exclude<WatchOutcome, { kind: 'stopped' }>, pacing: Pacing): Promise<string | undefined> => {
    switch (outcome.kind) {
      case 'closed':
        pacing.consecutiveExpiries = 0;
        if (outcome.proven) {
          pacing.attempt = 0;
          health.recover('watch');
        } else {
          // Not a failure (resuming from the same version loses nothing), but do not spin on a server that hangs up at once.
          await backOff(pacing);
        }
        return outcome.resourceVersion;
      case 'expired':
        health.fail('resourceVersion too old (410 Gone); relisting', 'list');
        pacing.consecutiveExpiries += 1;
        if (pacing.consecutiveExpiries > 1) await backOff(pacing);
        return undefined;
      case 'failed':
        health.fail(outcome.reason, 'watch');
        // Relist rather than resume: whatever the dead watch missed is then in the cache again.
        await backOff(pacing);
        return undefined;
    }
  };

  const run = async (signal: AbortSignal): Promise<void> => {
    const pacing: Pacing = { attempt: 0, consecutiveExpiries: 0, pause: (ms) => options.delay(ms, signal) };
    let resourceVersion: string | undefined;
    while (!signal.aborted) {
      resourceVersion ??= await list(signal, pacing);
      if (resourceVersion === undefined) continue;
      const outcome = await watchOnce(options, resourceVersion, signal, onWatchEvent);
      if (outcome.kind === 'stopped') return;
      resourceVersion = await afterWatch(outcome, pacing);
    }
  };

  return {
    start() {
      if (running) return;
      controller = new AbortController();
      running = run(controller.signal).catch((error: unknown) => {
        logger.error({ watch: options.name, err: error }, 'Kubernetes watch loop crashed');
        health.crashed();
      });
    },
    async stop() {
      controller?.abort();
      await running;
      running = undefined;
      controller = undefined;
    },
    healthy: health.healthy,
    status: health.status,
    store: () => store.current(),
  };
}
