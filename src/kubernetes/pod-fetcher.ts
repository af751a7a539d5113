import type { CoreV1Api } from '@kubernetes/client-node';
import { describeApiError, statusCodeOf } from './api-error.js';
import { containerNamesOf } from './pod-containers.js';
import { requestOptions } from './request-options.js';

export type PodFetch =
  | { readonly state: 'found'; readonly containers: ReadonlySet<string> }
  | { readonly state: 'gone' }
  | { readonly state: 'error'; readonly reason: string };

export interface PodRef {
  readonly namespace: string;
  readonly name: string;
}

export interface PodFetcherOptions {
  readonly coreApi: Pick<CoreV1Api, 'readNamespacedPod'>;
  readonly now: () => number;
  readonly requestTimeoutMs: number;
  /** How long a found answer is reused. */
  readonly ttlMs: number;
  /**
   * How long a 404 answer is reused. Short: a stale "gone" keeps counting orphan time for a pod recreated
   * under the same name elsewhere (a StatefulSet pod moving nodes), while a stale "found" only errs to alive.
   */
  readonly goneTtlMs: number;
  /** How long a failed lookup is reused, so a failing API is not asked again every cycle. */
  readonly errorTtlMs: number;
  readonly maxLookupsPerCall: number;
  readonly concurrency: number;
}

export interface PodFetcher {
  /** Answers for every ref, from cache or by GET; refs beyond the per-call budget come back as errors. */
  fetch(refs: readonly PodRef[], signal: AbortSignal): Promise<ReadonlyMap<string, PodFetch>>;
  /** How many answers are cached, for tests and debugging. */
  size(): number;
}

/** Bounds memory if archives name many distinct pods; oldest answers are dropped first. */
const MAX_CACHED_PODS = 10_000;

const refKey = (ref: PodRef): string => `${ref.namespace}/${ref.name}`;

/**
 * GETs single pods that are not in this node's watch cache (moved to another node, or gone), bounded
 * three ways: a TTL cache, a cap per call and a concurrency limit, so a directory full of old archives
 * cannot turn into a request storm against the API server.
 */
export function createPodFetcher(options: PodFetcherOptions): PodFetcher {
  const cache = new Map<string, { readonly answer: PodFetch; readonly expiresAtMs: number }>();

  const getOne = async (ref: PodRef, signal: AbortSignal): Promise<PodFetch> => {
    try {
      const pod = await options.coreApi.readNamespacedPod(
        { namespace: ref.namespace, name: ref.name },
        requestOptions(options.requestTimeoutMs, signal),
      );
      return { state: 'found', containers: containerNamesOf(pod) };
    } catch (error) {
      if (statusCodeOf(error) === 404) return { state: 'gone' };
      return { state: 'error', reason: `GET pod ${refKey(ref)}: ${describeApiError(error)}` };
    }
  };

  const remember = (key: string, answer: PodFetch): void => {
    const ttl = answer.state === 'error' ? options.errorTtlMs : answer.state === 'gone' ? options.goneTtlMs : options.ttlMs;
    cache.delete(key);
    cache.set(key, { answer, expiresAtMs: options.now() + ttl });
    while (cache.size > MAX_CACHED_PODS) {
      const oldest = cache.keys().next();
      if (oldest.done) break;
      cache.delete(oldest.value);
    }
  };

  return {
    size: () => cache.size,
    async fetch(refs, signal) {
      const answers = new Map<string, PodFetch>();
      const queue: Array<{ key: string; ref: PodRef }> = [];
      const queued = new Set<string>();
      const nowMs = options.now();
      for (const ref of refs) {
        const key = refKey(ref);
        if (answers.has(key) || queued.has(key)) continue;
        const cached = cache.get(key);
        if (cached && cached.expiresAtMs > nowMs) {
          answers.set(key, cached.answer);
        } else if (queue.length < options.maxLookupsPerCall) {
          queue.push({ key, ref });
          queued.add(key);
        } else {
          answers.set(key, { state: 'error', reason: `lookup budget of ${options.maxLookupsPerCall} pods per cycle spent; retried next cycle` });
        }
      }
      let next = 0;
      const worker = async (): Promise<void> => {
        while (next < queue.length && !signal.aborted) {
          const item = queue[next++];
          if (!item) break;
          const answer = await getOne(item.ref, signal);
          if (!signal.aborted) remember(item.key, answer);
          answers.set(item.key, answer);
        }
      };
      await Promise.all(Array.from({ length: Math.max(1, Math.min(options.concurrency, queue.length)) }, worker));
      for (const item of queue) if (!answers.has(item.key)) answers.set(item.key, { state: 'error', reason: 'lookup cancelled' });
      return answers;
    },
  };
}
