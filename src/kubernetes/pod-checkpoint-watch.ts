import { CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { statusCodeOf } from './api-error.js';
import { DEFAULT_BACKOFF, realDelay } from './backoff.js';
import { createReflector, DEFAULT_WATCH_GRACE_MS, DEFAULT_WATCH_TIMEOUT_SECONDS } from './reflector.js';
import { DEFAULT_REQUEST_TIMEOUT_MS, requestOptions } from './request-options.js';

/** KEP-5823's PodCheckpoint: namespaced, alpha, served only where the feature gate is on. */
export const POD_CHECKPOINT_GROUP = 'checkpoint.k8s.io';
export const POD_CHECKPOINT_VERSION = 'v1alpha1';
export const POD_CHECKPOINT_PLURAL = 'podcheckpoints';

/** Where the gate is off the group stays unserved for weeks: looking again every five minutes is enough. */
const ABSENT_RETRY_MS = 5 * 60_000;

/** What the exporter keeps of a PodCheckpoint object. */
export interface PodCheckpointObject {
  readonly namespace: string;
  readonly name: string;
  readonly sourcePodName: string | undefined;
  readonly phase: string | undefined;
  /**
   * The base name of `status.checkpointLocation.path` when its type is NodeLocal and the path is plain
   * (relative, no `..`); undefined otherwise: such an object references no archive on this node.
   */
  readonly archiveFileName: string | undefined;
}

/** What the view knows: undefined while the objects are not known (not yet listed, or the list fails). */
export interface PodCheckpointView {
  start(): void;
  stop(): Promise<void>;
  /** `absent`: the API does not serve the group (the gate is off): files alone decide. */
  state(): { readonly kind: 'unknown' } | { readonly kind: 'absent' } | { readonly kind: 'known'; readonly objects: readonly PodCheckpointObject[] };
}

const stringAt = (value: unknown, ...path: string[]): string | undefined => {
  let at: unknown = value;
  for (const key of path) {
    if (at === null || typeof at !== 'object') return undefined;
    at = (at as Record<string, unknown>)[key];
  }
  return typeof at === 'string' && at !== '' ? at : undefined;
};

/**
 * The archive an object points at. The KEP gives the path relative to the kubelet's checkpoint root,
 * and leaves open whether that root is the pod checkpoint directory or the kubelet's: the base name is
 * what both readings share. A path that climbs (`..`), is absolute or is not NodeLocal points at nothing.
 */
export function archiveFileNameOf(object: unknown): string | undefined {
  if (stringAt(object, 'status', 'checkpointLocation', 'type') !== 'NodeLocal') return undefined;
  const path = stringAt(object, 'status', 'checkpointLocation', 'path');
  if (path === undefined || path.startsWith('/') || path.includes('\0')) return undefined;
  const parts = path.split('/').filter((part) => part !== '' && part !== '.');
  if (parts.length === 0 || parts.includes('..')) return undefined;
  return parts[parts.length - 1];
}

export function projectPodCheckpoint(object: unknown): PodCheckpointObject | undefined {
  const namespace = stringAt(object, 'metadata', 'namespace');
  const name = stringAt(object, 'metadata', 'name');
  if (namespace === undefined || name === undefined) return undefined;
  return { namespace, name, sourcePodName: stringAt(object, 'spec', 'sourcePodName'), phase: stringAt(object, 'status', 'phase'), archiveFileName: archiveFileNameOf(object) };
}

/**
 * Watches PodCheckpoint objects in all namespaces. A 404 (the group not served) is normal and quiet:
 * this reflector logs only errors, and the view says `absent`.
 */
export function watchPodCheckpoints(options: { readonly kubeConfig: KubeConfig; readonly logger: Logger }): PodCheckpointView {
  const api = options.kubeConfig.makeApiClient(CustomObjectsApi);
  const reflector = createReflector<PodCheckpointObject>({
    name: `${POD_CHECKPOINT_PLURAL}.${POD_CHECKPOINT_GROUP}`,
    kubeConfig: options.kubeConfig,
    watchPath: `/apis/${POD_CHECKPOINT_GROUP}/${POD_CHECKPOINT_VERSION}/${POD_CHECKPOINT_PLURAL}`,
    list: async (signal) => {
      const list: unknown = await api.listClusterCustomObject(
        { group: POD_CHECKPOINT_GROUP, version: POD_CHECKPOINT_VERSION, plural: POD_CHECKPOINT_PLURAL },
        requestOptions(DEFAULT_REQUEST_TIMEOUT_MS, signal),
      );
      const record = (list ?? {}) as { items?: unknown; metadata?: { resourceVersion?: unknown } };
      const rv = record.metadata?.resourceVersion;
      return { items: Array.isArray(record.items) ? (record.items as unknown[]) : [], resourceVersion: typeof rv === 'string' ? rv : '' };
    },
    keyOf: (object) => {
      const projected = projectPodCheckpoint(object);
      return projected ? `${projected.namespace}/${projected.name}` : undefined;
    },
    project: projectPodCheckpoint,
    isAbsent: (error) => statusCodeOf(error) === 404,
    absentRetryMs: ABSENT_RETRY_MS,
    logger: options.logger.child({ watch: POD_CHECKPOINT_PLURAL }, { level: 'error' }),
    delay: realDelay,
    backoff: DEFAULT_BACKOFF,
    watchTimeoutSeconds: DEFAULT_WATCH_TIMEOUT_SECONDS,
    watchGraceMs: DEFAULT_WATCH_GRACE_MS,
  });
  return {
    start: () => reflector.start(),
    stop: () => reflector.stop(),
    state() {
      const status = reflector.status();
      if (status.absent) return { kind: 'absent' };
      if (!status.synced || !status.healthy) return { kind: 'unknown' };
      return { kind: 'known', objects: [...reflector.store().values()] };
    },
  };
}
