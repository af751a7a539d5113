import { CoreV1Api, type KubeConfig } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { ArchiveIdentity } from '../archive/types.js';
import type { OwnerLookup, OwnerState } from '../retention/types.js';
import { DEFAULT_BACKOFF, realDelay, type BackoffOptions, type DelayFn } from './backoff.js';
import { advanceOrphanClock, EMPTY_ORPHAN_CLOCK, type OrphanClock, type OwnerVerdict } from './orphan-clock.js';
import { identityKey, podFactsOf, podKey, podKeyOf, type PodFacts } from './pod-containers.js';
import { createPodFetcher, type PodFetch } from './pod-fetcher.js';
import { createReflector, DEFAULT_WATCH_GRACE_MS, DEFAULT_WATCH_TIMEOUT_SECONDS } from './reflector.js';
import { DEFAULT_REQUEST_TIMEOUT_MS, requestOptions } from './request-options.js';

/** Pods elsewhere change owners rarely; a minute of reuse keeps GETs to a trickle. */
export const DEFAULT_LOOKUP_TTL_MS = 60_000;
/** A pod gone now may be recreated under its name on another node any moment; see PodFetcherOptions.goneTtlMs. */
export const DEFAULT_LOOKUP_GONE_TTL_MS = 5_000;
export const DEFAULT_LOOKUP_ERROR_TTL_MS = 15_000;
/** Per resolve call; the rest are looked up in later cycles. */
export const DEFAULT_MAX_LOOKUPS_PER_RESOLVE = 50;
export const DEFAULT_LOOKUP_CONCURRENCY = 4;

export interface PodViewOptions {
  readonly kubeConfig: KubeConfig;
  /** This node's name (from NODE_NAME, read by the caller). */
  readonly nodeName: string;
  readonly logger: Logger;
  /** Wall clock, epoch ms: the planner compares `sinceMs` with its own wall-clock now. */
  readonly now: () => number;
  /** Measures how long an owner has been orphaned; never steps. Defaults to performance.now(). */
  readonly monotonicNow?: () => number;
  readonly delay?: DelayFn;
  readonly backoff?: BackoffOptions;
  readonly watchTimeoutSeconds?: number;
  readonly watchGraceMs?: number;
  readonly requestTimeoutMs?: number;
  readonly lookupTtlMs?: number;
  readonly lookupGoneTtlMs?: number;
  readonly lookupErrorTtlMs?: number;
  readonly maxLookupsPerResolve?: number;
  readonly lookupConcurrency?: number;
}

export interface PodView {
  start(): void;
  stop(): Promise<void>;
  /** The node's pod cache can be trusted: drives checkpoint_kubernetes_api_up. */
  healthy(): boolean;
  /**
   * Looks up the owners of these archives. The returned lookup answers for exactly these identities
   * (others are `unknown`); pass every identified archive each cycle, since the orphan clock only keeps
   * owners it keeps seeing orphaned.
   */
  resolveOwners(identities: readonly ArchiveIdentity[]): Promise<OwnerLookup>;
  /**
   * The same for pod-level archives (KEP-5823, identities whose container is empty): the owner is the
   * pod itself, alive while it exists whatever its containers. Its own orphan clock and its own lookup
   * budget, so neither kind of archive resets the other's grace periods or takes the other's GETs.
   */
  resolvePodOwners(identities: readonly ArchiveIdentity[]): Promise<OwnerLookup>;
  /** The uid of a pod this view knows (on this node, or looked up by name), for the Events about it. */
  uidOf(namespace: string, name: string): string | undefined;
}

/**
 * Knows which pods and containers exist, to tell live archives from orphans. Watches only this node's pods;
 * a pod not in that cache is fetched by name. Ownership is by name: an archive belongs to namespace/pod/container,
 * so a StatefulSet pod recreated under the same name (new UID) still owns the archives of its predecessor.
 */
export function createPodView(options: PodViewOptions): PodView {
  const { logger, now, nodeName } = options;
  const monotonicNow = options.monotonicNow ?? (() => performance.now());
  const requestTimeoutMs = options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
  const coreApi = options.kubeConfig.makeApiClient(CoreV1Api);
  const fieldSelector = `spec.nodeName=${nodeName}`;
  /** One orphan clock per kind of archive: each resolver keeps only the owners it keeps seeing orphaned. */
  const clocks: Array<{ value: OrphanClock }> = [];
  const lifetime = new AbortController();

  const reflector = createReflector<PodFacts>({
    name: `pods on node ${nodeName}`,
    kubeConfig: options.kubeConfig,
    watchPath: '/api/v1/pods',
    fieldSelector,
    list: async (signal) => {
      const list = await coreApi.listPodForAllNamespaces({ fieldSelector }, requestOptions(requestTimeoutMs, signal));
      return { items: list.items, resourceVersion: list.metadata?.resourceVersion ?? '' };
    },
    keyOf: podKeyOf,
    project: podFactsOf,
    onHealthChange: (healthy) => {
      // Any doubt restarts every orphan's grace period.
      if (!healthy) for (const clock of clocks) clock.value = EMPTY_ORPHAN_CLOCK;
    },
    logger,
    delay: options.delay ?? realDelay,
    backoff: options.backoff ?? DEFAULT_BACKOFF,
    watchTimeoutSeconds: options.watchTimeoutSeconds ?? DEFAULT_WATCH_TIMEOUT_SECONDS,
    watchGraceMs: options.watchGraceMs ?? DEFAULT_WATCH_GRACE_MS,
  });

  const createFetcher = (): ReturnType<typeof createPodFetcher> =>
    createPodFetcher({
      coreApi,
      // Monotonic too: a wall clock stepped back would otherwise keep a "gone" answer far past its TTL.
      now: monotonicNow,
      requestTimeoutMs,
      ttlMs: options.lookupTtlMs ?? DEFAULT_LOOKUP_TTL_MS,
      goneTtlMs: options.lookupGoneTtlMs ?? DEFAULT_LOOKUP_GONE_TTL_MS,
      errorTtlMs: options.lookupErrorTtlMs ?? DEFAULT_LOOKUP_ERROR_TTL_MS,
      maxLookupsPerCall: options.maxLookupsPerResolve ?? DEFAULT_MAX_LOOKUPS_PER_RESOLVE,
      concurrency: options.lookupConcurrency ?? DEFAULT_LOOKUP_CONCURRENCY,
    });

  const unhealthyReason = (): string => `Kubernetes pod view not trustworthy: ${reflector.status().reason ?? 'unhealthy'}`;

  /**
   * One kind of archive's owner lookups: its own clock and fetcher (the fetcher's fairness remembers the
   * pods last asked about, so two kinds sharing one would push each other's pods to the back).
   */
  const createResolver = (owns: (containers: ReadonlySet<string>, identity: ArchiveIdentity) => boolean) => {
    const clock = { value: EMPTY_ORPHAN_CLOCK };
    clocks.push(clock);
    const fetcher = createFetcher();
    const allUnknown = (reason: string): OwnerLookup => {
      clock.value = EMPTY_ORPHAN_CLOCK;
      const state: OwnerState = { state: 'unknown', reason };
      return () => state;
    };
    const resolve = async (identities: readonly ArchiveIdentity[]): Promise<OwnerLookup> => {
      if (!reflector.healthy()) return allUnknown(unhealthyReason());
      const refs = new Map<string, { namespace: string; name: string }>();
      for (const identity of identities) {
        const key = podKey(identity.namespace, identity.pod);
        if (!reflector.store().has(key)) refs.set(key, { namespace: identity.namespace, name: identity.pod });
      }
      const fetched: ReadonlyMap<string, PodFetch> = refs.size === 0 ? new Map() : await fetcher.fetch([...refs.values()], lifetime.signal);
      // The watch may have broken while the GETs ran.
      if (!reflector.healthy()) return allUnknown(unhealthyReason());

      const store = reflector.store();
      const states = new Map<string, OwnerState>();
      const verdicts: Array<readonly [string, OwnerVerdict]> = [];
      for (const identity of identities) {
        const key = identityKey(identity);
        const pod = podKey(identity.namespace, identity.pod);
        const local = store.get(pod);
        const remote = local ? undefined : fetched.get(pod);
        let state: OwnerState;
        if (local) {
          state = owns(local.containers, identity) ? { state: 'alive' } : { state: 'orphan', sinceMs: 0 };
        } else if (remote?.state === 'found') {
          state = owns(remote.containers, identity) ? { state: 'alive' } : { state: 'orphan', sinceMs: 0 };
        } else if (remote?.state === 'gone') {
          state = { state: 'orphan', sinceMs: 0 };
        } else {
          state = { state: 'unknown', reason: remote?.reason ?? `pod ${pod} was not looked up` };
        }
        states.set(key, state);
        verdicts.push([key, state.state]);
      }
      clock.value = advanceOrphanClock(clock.value, verdicts, monotonicNow());
      const resolvedClock = clock.value;
      return (identity) => {
        const key = identityKey(identity);
        const state = states.get(key);
        if (!state) return { state: 'unknown', reason: 'archive owner was not among the identities resolved this cycle' };
        if (state.state !== 'orphan') return state;
        const orphanedAt = resolvedClock.get(key);
        if (orphanedAt === undefined) return { state: 'unknown', reason: 'orphan clock lost this owner' };
        // Taken when the planner asks, next to its own wall-clock now, so its `now - sinceMs` is the monotonic
        // time orphaned whatever the wall clock did since; whole milliseconds, rounded toward less orphan time.
        return { state: 'orphan', sinceMs: now() - Math.floor(monotonicNow() - orphanedAt) };
      };
    };
    return { resolve, fetcher };
  };
  const containerOwners = createResolver((containers, identity) => containers.has(identity.container));
  // A pod-level archive is the pod's: it is owned while the pod exists, whatever containers it declares.
  const podOwners = createResolver(() => true);

  return {
    start: () => reflector.start(),
    async stop() {
      lifetime.abort();
      await reflector.stop();
    },
    healthy: () => reflector.healthy(),
    uidOf: (namespace, name) => reflector.store().get(podKey(namespace, name))?.uid ?? containerOwners.fetcher.uidOf(namespace, name) ?? podOwners.fetcher.uidOf(namespace, name),
    resolveOwners: containerOwners.resolve,
    resolvePodOwners: podOwners.resolve,
  };
}
