import { Watch, type KubeConfig } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { describeApiError, statusCodeOf } from './api-error.js';
import { backoffDelayMs, type BackoffOptions, type DelayFn } from './backoff.js';

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

export interface ReflectorStatus {
  readonly healthy: boolean;
  /** A list has succeeded at least once. */
  readonly synced: boolean;
  /** The last list said the resource type is not served, and no object was known then. */
  readonly absent: boolean;
  readonly reason: string | undefined;
}

export interface Reflector<T> {
  start(): void;
  stop(): Promise<void>;
  healthy(): boolean;
  status(): ReflectorStatus;
  store(): ReadonlyMap<string, T>;
}

type WatchOutcome =
  | { readonly kind: 'stopped' }
  /** The server ended the watch; `proven` when it lived long enough or carried events. */
  | { readonly kind: 'closed'; readonly resourceVersion: string; readonly proven: boolean }
  | { readonly kind: 'expired' }
  | { readonly kind: 'failed'; readonly reason: string };

interface Destroyable {
  destroy(): void;
}

function isDestroyable(value: unknown): value is Destroyable {
  return value !== null && typeof value === 'object' && typeof (value as { destroy?: unknown }).destroy === 'function';
}

/**
 * The client's Watch keeps its AbortController to itself until the response headers arrive, so a server
 * that never answers would hold the watch forever. Each watch gets a fresh agent from the config; capturing
 * it lets the deadline destroy exactly that watch's socket, whatever stage the request is in.
 */
function withAgentCapture(kubeConfig: KubeConfig, capture: (agent: Destroyable) => void): KubeConfig {
  const wrapper = Object.create(kubeConfig) as KubeConfig;
  wrapper.applyToFetchOptions = async (opts) => {
    const init = await kubeConfig.applyToFetchOptions(opts);
    const agent = (init as { agent?: unknown }).agent;
    if (isDestroyable(agent)) capture(agent);
    return init;
  };
  return wrapper;
}

function resourceVersionOf(object: unknown): string | undefined {
  if (object === null || typeof object !== 'object') return undefined;
  const metadata = (object as { metadata?: unknown }).metadata;
  if (metadata === null || typeof metadata !== 'object') return undefined;
  const rv = (metadata as { resourceVersion?: unknown }).resourceVersion;
  return typeof rv === 'string' && rv !== '' ? rv : undefined;
}

/**
 * What recovers the reflector from a failure. After the API merely said "too old" (410) a fresh list is proof
 * enough. After a watch died, a list is not: a server can answer lists while its watches hang, so health waits
 * for the watch itself to deliver an event or bookmark, or to reach its own timeout.
 */
type Proof = 'list' | 'watch';

/**
 * A list-then-watch loop over one collection, keeping a projected cache. Healthy means the cache can be trusted:
 * synced once, and no failure since that the API has not proven recovered from. Silence is not failure: a quiet
 * watch is healthy until its timeoutSeconds, when the server closes it and it is renewed.
 */
export function createReflector<T>(options: ReflectorOptions<T>): Reflector<T> {
  const { logger, backoff, watchTimeoutSeconds, watchGraceMs } = options;
  let store = new Map<string, T>();
  let synced = false;
  let absent = false;
  let failure: { reason: string; proof: Proof } | undefined;
  let controller: AbortController | undefined;
  let running: Promise<void> | undefined;

  const isHealthy = (): boolean => absent || (synced && failure === undefined);

  const transition = (update: () => void): void => {
    const before = isHealthy();
    update();
    const after = isHealthy();
    if (before !== after) options.onHealthChange?.(after);
  };

  const fail = (reason: string, proof: Proof): void => {
    const previous = failure;
    transition(() => {
      // Once the watch itself is in doubt, only the watch can clear it.
      failure = { reason, proof: previous?.proof === 'watch' || proof === 'watch' ? 'watch' : 'list' };
    });
    if (previous === undefined) logger.warn({ watch: options.name, reason }, 'Kubernetes watch unhealthy');
    else logger.debug({ watch: options.name, reason }, 'Kubernetes watch still unhealthy');
  };

  const recover = (by: Proof): void => {
    if (failure === undefined || (failure.proof === 'watch' && by === 'list')) return;
    const reason = failure.reason;
    transition(() => {
      failure = undefined;
    });
    logger.info({ watch: options.name, recoveredFrom: reason }, 'Kubernetes watch healthy again');
  };

  const emit = (): void => options.onStoreChange?.(store);

  const replaceStore = (items: readonly unknown[]): void => {
    const next = new Map<string, T>();
    for (const item of items) {
      const key = options.keyOf(item);
      const value = key === undefined ? undefined : options.project(item);
      if (key !== undefined && value !== undefined) next.set(key, value);
    }
    store = next;
  };

  const applyEvent = (type: string, object: unknown): void => {
    const key = options.keyOf(object);
    if (key === undefined) return;
    if (type === 'DELETED') {
      store.delete(key);
    } else {
      const value = options.project(object);
      if (value === undefined) store.delete(key);
      else store.set(key, value);
    }
    emit();
  };

  const watchOnce = (resourceVersion: string, signal: AbortSignal): Promise<WatchOutcome> =>
    new Promise<WatchOutcome>((resolve) => {
      let settled = false;
      let lastVersion = resourceVersion;
      let delivered = 0;
      let matured = false;
      let agent: Destroyable | undefined;
      let watchController: AbortController | undefined;
      const timers: NodeJS.Timeout[] = [];

      const settle = (outcome: WatchOutcome): void => {
        if (settled) return;
        settled = true;
        for (const timer of timers) clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        watchController?.abort();
        agent?.destroy();
        resolve(outcome);
      };
      const onAbort = (): void => settle({ kind: 'stopped' });
      signal.addEventListener('abort', onAbort, { once: true });

      // A watch the server ends well before its timeout, with nothing in it, proves little about the server.
      timers.push(setTimeout(() => (matured = true), (watchTimeoutSeconds * 1000) / 2));
      timers.push(
        setTimeout(
          () => settle({ kind: 'failed', reason: `watch still open ${watchGraceMs} ms past its ${watchTimeoutSeconds} s timeout; connection presumed dead` }),
          watchTimeoutSeconds * 1000 + watchGraceMs,
        ),
      );

      const config = withAgentCapture(options.kubeConfig, (captured) => {
        if (settled) captured.destroy();
        else agent = captured;
      });
      const query: Record<string, string | number | boolean> = {
        resourceVersion,
        allowWatchBookmarks: true,
        timeoutSeconds: watchTimeoutSeconds,
      };
      if (options.fieldSelector !== undefined) query['fieldSelector'] = options.fieldSelector;

      const onEvent = (type: string, object: unknown): void => {
        if (settled) return;
        if (type === 'ERROR') {
          if (statusCodeOf(object) === 410) settle({ kind: 'expired' });
          else settle({ kind: 'failed', reason: `watch ERROR event: ${describeApiError(object)}` });
          return;
        }
        delivered += 1;
        lastVersion = resourceVersionOf(object) ?? lastVersion;
        recover('watch');
        if (type === 'ADDED' || type === 'MODIFIED' || type === 'DELETED') applyEvent(type, object);
      };
      const onDone = (error: unknown): void => {
        if (settled) return;
        if (error === null || error === undefined) {
          settle({ kind: 'closed', resourceVersion: lastVersion, proven: matured || delivered > 0 });
        } else if (statusCodeOf(error) === 410) {
          settle({ kind: 'expired' });
        } else {
          settle({ kind: 'failed', reason: `watch failed: ${describeApiError(error)}` });
        }
      };

      new Watch(config).watch(options.watchPath, query, onEvent, onDone).then(
        (started) => {
          if (settled) started.abort();
          else watchController = started;
        },
        (error: unknown) => settle({ kind: 'failed', reason: `watch failed: ${describeApiError(error)}` }),
      );
    });

  const run = async (signal: AbortSignal): Promise<void> => {
    let attempt = 0;
    let consecutiveExpiries = 0;
    let resourceVersion: string | undefined;
    const pause = (ms: number): Promise<void> => options.delay(ms, signal);

    while (!signal.aborted) {
      if (resourceVersion === undefined) {
        let listed: ListResult;
        try {
          listed = await options.list(signal);
        } catch (error) {
          if (signal.aborted) return;
          if (options.isAbsent?.(error) && store.size > 0) {
            // Objects only leave by DELETED events or a successful relist: the API removes every object (and says
            // so on the watch) before it stops serving their type, so "not served" while some are known is doubt.
            fail(`list says the resource type is not served while ${store.size} objects are known; keeping them: ${describeApiError(error)}`, 'list');
            await pause(backoffDelayMs(attempt++, backoff));
            continue;
          }
          if (options.isAbsent?.(error)) {
            if (!absent) {
              transition(() => {
                absent = true;
              });
              logger.warn({ watch: options.name, retryMs: options.absentRetryMs }, 'resource type not served by the API; retrying slowly');
              emit();
            }
            await pause(options.absentRetryMs ?? backoff.maxMs);
            continue;
          }
          fail(`list failed: ${describeApiError(error)}`, 'list');
          await pause(backoffDelayMs(attempt++, backoff));
          continue;
        }
        if (signal.aborted) return;
        if (absent) logger.info({ watch: options.name }, 'resource type is now served by the API');
        transition(() => {
          absent = false;
          synced = true;
          replaceStore(listed.items);
        });
        recover('list');
        resourceVersion = listed.resourceVersion;
        emit();
      }

      const outcome = await watchOnce(resourceVersion, signal);
      switch (outcome.kind) {
        case 'stopped':
          return;
        case 'closed':
          resourceVersion = outcome.resourceVersion;
          consecutiveExpiries = 0;
          if (outcome.proven) {
            attempt = 0;
            recover('watch');
          } else {
            // Not a failure (resuming from the same version loses nothing), but do not spin on a server that hangs up at once.
            await pause(backoffDelayMs(attempt++, backoff));
          }
          break;
        case 'expired':
          fail('resourceVersion too old (410 Gone); relisting', 'list');
          resourceVersion = undefined;
          consecutiveExpiries += 1;
          if (consecutiveExpiries > 1) await pause(backoffDelayMs(attempt++, backoff));
          break;
        case 'failed':
          fail(outcome.reason, 'watch');
          // Relist rather than resume: whatever the dead watch missed is then in the cache again.
          resourceVersion = undefined;
          await pause(backoffDelayMs(attempt++, backoff));
          break;
      }
    }
  };

  return {
    start() {
      if (running) return;
      controller = new AbortController();
      running = run(controller.signal).catch((error: unknown) => {
        logger.error({ watch: options.name, err: error }, 'Kubernetes watch loop crashed');
        transition(() => {
          failure = { reason: 'watch loop crashed', proof: 'watch' };
        });
      });
    },
    async stop() {
      controller?.abort();
      await running;
      running = undefined;
      controller = undefined;
    },
    healthy: isHealthy,
    status: () => ({ healthy: isHealthy(), synced, absent, reason: failure?.reason ?? (synced || absent ? undefined : 'not synced yet') }),
    store: () => store,
  };
}
