import { CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { statusCodeOf } from './api-error.js';
import { DEFAULT_BACKOFF, realDelay, type BackoffOptions, type DelayFn } from './backoff.js';
import { createReflector, DEFAULT_WATCH_GRACE_MS, DEFAULT_WATCH_TIMEOUT_SECONDS } from './reflector.js';
import { DEFAULT_REQUEST_TIMEOUT_MS, requestOptions } from './request-options.js';

export const POLICY_GROUP = 'criu.org';
export const POLICY_VERSION = 'v1';
export const POLICY_PLURAL = 'checkpointrestoreoperators';

/** The CRD is installed by hand, rarely; checking every five minutes finds it soon enough without noise. */
export const DEFAULT_ABSENT_RETRY_MS = 5 * 60_000;

export interface PolicyObject {
  readonly namespace: string;
  readonly name: string;
  /** metadata.uid and metadata.resourceVersion, when the API server sent them: an Event names the object by uid. */
  readonly uid?: string;
  readonly resourceVersion?: string;
  readonly object: unknown;
}

export interface PolicyWatchOptions {
  readonly kubeConfig: KubeConfig;
  readonly logger: Logger;
  /** Called with the full current set, sorted by namespace then name, after every change and relist. */
  readonly onChange: (objects: ReadonlyArray<PolicyObject>) => void;
  readonly delay?: DelayFn;
  readonly backoff?: BackoffOptions;
  readonly watchTimeoutSeconds?: number;
  readonly watchGraceMs?: number;
  readonly requestTimeoutMs?: number;
  /** How often to look again while the CRD is not installed. */
  readonly absentRetryMs?: number;
}

export interface PolicyWatch {
  start(): void;
  stop(): Promise<void>;
  /** The current set can be trusted; true also when the CRD is simply not installed (the set is then empty). */
  healthy(): boolean;
  /**
   * The cluster's policies are known: a list has succeeded at least once, or the very first answer said the
   * CRD is not installed before any object was seen. Stays true afterwards: through later failures the last
   * known set stays in force.
   */
  synced(): boolean;
}

function metadataOf(object: unknown): { namespace: string; name: string; uid?: string; resourceVersion?: string } | undefined {
  if (object === null || typeof object !== 'object') return undefined;
  const metadata = (object as { metadata?: unknown }).metadata;
  if (metadata === null || typeof metadata !== 'object') return undefined;
  const { namespace, name, uid, resourceVersion } = metadata as { namespace?: unknown; name?: unknown; uid?: unknown; resourceVersion?: unknown };
  if (typeof name !== 'string' || name === '') return undefined;
  return {
    namespace: typeof namespace === 'string' ? namespace : '',
    name,
    ...(typeof uid === 'string' && uid !== '' ? { uid } : {}),
    ...(typeof resourceVersion === 'string' && resourceVersion !== '' ? { resourceVersion } : {}),
  };
}

const compareObjects = (a: PolicyObject, b: PolicyObject): number =>
  a.namespace < b.namespace ? -1 : a.namespace > b.namespace ? 1 : a.name < b.name ? -1 : a.name > b.name ? 1 : 0;

/**
 * Watches CheckpointRestoreOperator objects (criu.org/v1) in all namespaces and hands the whole current set
 * to `onChange`; parsing them into policies is the caller's business. When the list fails the last set stays
 * in force (onChange is not called) and healthy() turns false. A 404 on list while no object is known means
 * the CRD is not installed: logged once, the set is empty, and the list is retried every `absentRetryMs`.
 * A 404 while objects are known is a failure like any other: the API deletes every object, announcing it on
 * the watch, before it stops serving the CRD, so the known set is kept rather than dropped on a transient 404.
 */
export function watchPolicyObjects(options: PolicyWatchOptions): PolicyWatch {
  const api = options.kubeConfig.makeApiClient(CustomObjectsApi);
  const requestTimeoutMs = options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;

  const reflector = createReflector<PolicyObject>({
    name: `${POLICY_PLURAL}.${POLICY_GROUP}`,
    kubeConfig: options.kubeConfig,
    watchPath: `/apis/${POLICY_GROUP}/${POLICY_VERSION}/${POLICY_PLURAL}`,
    list: async (signal) => {
      const list: unknown = await api.listClusterCustomObject(
        { group: POLICY_GROUP, version: POLICY_VERSION, plural: POLICY_PLURAL },
        requestOptions(requestTimeoutMs, signal),
      );
      const record = (list ?? {}) as { items?: unknown; metadata?: { resourceVersion?: unknown } };
      const items = Array.isArray(record.items) ? (record.items as unknown[]) : [];
      const rv = record.metadata?.resourceVersion;
      return { items, resourceVersion: typeof rv === 'string' ? rv : '' };
    },
    keyOf: (object) => {
      const meta = metadataOf(object);
      return meta ? `${meta.namespace}/${meta.name}` : undefined;
    },
    project: (object) => {
      const meta = metadataOf(object);
      return meta ? { ...meta, object } : undefined;
    },
    isAbsent: (error) => statusCodeOf(error) === 404,
    absentRetryMs: options.absentRetryMs ?? DEFAULT_ABSENT_RETRY_MS,
    onStoreChange: (store) => {
      const objects = [...store.values()].sort(compareObjects);
      try {
        options.onChange(objects);
      } catch (error) {
        options.logger.error({ err: error }, 'policy onChange handler threw');
      }
    },
    logger: options.logger,
    delay: options.delay ?? realDelay,
    backoff: options.backoff ?? DEFAULT_BACKOFF,
    watchTimeoutSeconds: options.watchTimeoutSeconds ?? DEFAULT_WATCH_TIMEOUT_SECONDS,
    watchGraceMs: options.watchGraceMs ?? DEFAULT_WATCH_GRACE_MS,
  });

  return {
    start: () => reflector.start(),
    stop: () => reflector.stop(),
    healthy: () => reflector.healthy(),
    synced: () => {
      // Monotonic: `absent` is only cleared by a successful list, which sets `synced` for good.
      const status = reflector.status();
      return status.synced || status.absent;
    },
  };
}
