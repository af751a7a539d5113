import type { CoreV1Api } from '@kubernetes/client-node';
import { describeApiError, statusCodeOf } from './api-error.js';
import { podFactsOf } from './pod-containers.js';
import { requestOptions } from './request-options.js';

export type PodFetch =
  | { readonly state: 'found'; readonly containers: ReadonlySet<string>; readonly uid?: string | undefined }
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
  /** The uid of a pod last found by a lookup, if any. */
  uidOf(namespace: string, name: string): string | undefined;
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
  // When each pod was last looked up: the per-call budget goes to those waiting longest, so every pod is
  // looked up within ceil(pods needing a lookup / budget) calls, whatever its place in the list.
  let lastLookup = new Map<string, number>();
  let sequence = 0;

  const getOne = async (ref: PodRef, signal: AbortSignal): Promise<PodFetch> => {
    try {
      const pod = await options.coreApi.readNamespacedPod(
        { namespace: ref.namespace, name: ref.name },
        requestOptions(options.requestTimeoutMs, signal),
      );
      const facts = podFactsOf(pod);
      return { state: 'found', containers: facts.containers, uid: facts.uid };
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
    uidOf(namespace, name) {
      const answer = cache.get(refKey({ namespace, name }))?.answer;
      return answer?.state === 'found' ? answer.uid : undefined;
    },
    async fetch(refs, signal) {
      const answers = new Map<string, PodFetch>();
      const due: Array<{ key: string; ref: PodRef; last: number }> = [];
      const seen = new Set<string>();
      const nowMs = options.now();
      for (const ref of refs) {
        const key = refKey(ref);
        if (seen.has(key)) continue;
        seen.add(key);
        const cached = cache.get(key);
        if (cached && cached.expiresAtMs > nowMs) answers.set(key, cached.answer);
        else due.push({ key, ref, last: lastLookup.get(key) ?? -1 });
      }
      // Never looked up first, then the longest waiting; ties keep the order given (a stable sort).
      due.sort((a, b) => a.last - b.last);
      const queue = due.slice(0, options.maxLookupsPerCall);
      for (const item of due.slice(options.maxLookupsPerCall)) {
        answers.set(item.key, { state: 'error', reason: `lookup budget of ${options.maxLookupsPerCall} pods per cycle spent; retried next cycle` });
      }
      // Remember only pods still asked about, so the map stays the size of the directory's owners.
      const kept = new Map<string, number>();
      for (const key of seen) {
        const last = lastLookup.get(key);
        if (last !== undefined) kept.set(key, last);
      }
      for (const item of queue) kept.set(item.key, (sequence += 1));
      lastLookup = kept;
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
