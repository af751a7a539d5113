import { CoreV1Api, PatchStrategy, type CoreV1Event, type KubeConfig } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { PlannedDeletion } from '../retention/types.js';
import { describeApiError, statusCodeOf } from './api-error.js';
import { createHash } from 'node:crypto';
import { addToBucket, bucketKeyOf, eventMessageOf, MAX_EVENT_MESSAGE_LENGTH, type DeletionBucket } from './event-aggregator.js';
import { DEFAULT_REQUEST_TIMEOUT_MS, requestOptions, withHeader } from './request-options.js';

export const EVENT_REASON = 'CheckpointArchiveDeleted';
export const EVENT_COMPONENT = 'checkpoint-exporter';

/** A burst of deletions (a disk-pressure sweep) becomes one Event per owner and reason per half minute. */
export const DEFAULT_FLUSH_INTERVAL_MS = 30_000;
/** Repeats within this window bump the count of the existing Event; the API server keeps Events about an hour. */
export const DEFAULT_REUSE_WINDOW_MS = 30 * 60_000;
/** More distinct owners than this in one window are counted as dropped rather than sent. */
export const DEFAULT_MAX_EVENTS_PER_FLUSH = 100;
/** Remembered Events (for count patches); the oldest are forgotten first. */
const MAX_REMEMBERED_EVENTS = 1_000;
/** Object names are DNS subdomains of at most 253 characters; leave room for the suffix. */
const MAX_NAME_PREFIX = 200;

export interface DeletionEventRecorderOptions {
  readonly kubeConfig: KubeConfig;
  readonly nodeName: string;
  readonly logger: Logger;
  readonly now: () => number;
  readonly flushIntervalMs?: number;
  readonly reuseWindowMs?: number;
  readonly maxEventsPerFlush?: number;
  readonly requestTimeoutMs?: number;
  /** Runs `flush` later; returns a cancel function. Defaults to an unref'd timer. */
  readonly schedule?: (run: () => void, delayMs: number) => () => void;
  /** The pod's uid when known, so `kubectl describe pod` lists the Event (it matches involvedObject.uid). */
  readonly podUid?: (namespace: string, name: string) => string | undefined;
}

export interface DeletionEventStats {
  readonly recorded: number;
  readonly created: number;
  readonly patched: number;
  readonly failed: number;
  readonly dropped: number;
}

export interface DeletionEventRecorder {
  /** Never throws and never waits: the deletion is folded into the current window. */
  record(deletion: PlannedDeletion, bytes: number): void;
  /** Sends the current window now. Never rejects. */
  flush(): Promise<void>;
  /** Sends what is pending and stops; later records are dropped. */
  stop(): Promise<void>;
  stats(): DeletionEventStats;
}

interface RememberedEvent {
  readonly namespace: string;
  readonly name: string;
  readonly count: number;
  readonly firstMs: number;
  readonly lastMs: number;
}

const defaultSchedule = (run: () => void, delayMs: number): (() => void) => {
  const timer = setTimeout(run, delayMs);
  timer.unref();
  return () => clearTimeout(timer);
};

/**
 * Emits a Kubernetes Event (core/v1, reason CheckpointArchiveDeleted, type Normal) for deleted archives,
 * aggregated so a burst does not flood the API: one Event per (pod, container, reason) per flush window,
 * and a repeat within the reuse window patches the existing Event's count instead of creating another.
 * Archives without identity are reported on the Node. API failures are logged and counted, never thrown.
 */
const uidField = (uid: string | undefined): { uid?: string } => (uid === undefined ? {} : { uid });

export function createDeletionEventRecorder(options: DeletionEventRecorderOptions): DeletionEventRecorder {
  const { logger, now, nodeName } = options;
  const api = options.kubeConfig.makeApiClient(CoreV1Api);
  const flushIntervalMs = options.flushIntervalMs ?? DEFAULT_FLUSH_INTERVAL_MS;
  const reuseWindowMs = options.reuseWindowMs ?? DEFAULT_REUSE_WINDOW_MS;
  const maxEventsPerFlush = options.maxEventsPerFlush ?? DEFAULT_MAX_EVENTS_PER_FLUSH;
  const requestTimeoutMs = options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
  const schedule = options.schedule ?? defaultSchedule;

  let pending = new Map<string, DeletionBucket>();
  const remembered = new Map<string, RememberedEvent>();
  let cancelScheduled: (() => void) | undefined;
  let flushing: Promise<void> = Promise.resolve();
  let stopped = false;
  let sequence = 0;
  const stats = { recorded: 0, created: 0, patched: 0, failed: 0, dropped: 0 };

  const remember = (key: string, event: RememberedEvent): void => {
    remembered.delete(key);
    remembered.set(key, event);
    while (remembered.size > MAX_REMEMBERED_EVENTS) {
      const oldest = remembered.keys().next();
      if (oldest.done) break;
      remembered.delete(oldest.value);
    }
  };

  const eventName = (bucket: DeletionBucket): string =>
    `${bucket.target.name.slice(0, MAX_NAME_PREFIX)}.${now().toString(16)}${(sequence++).toString(16).padStart(4, '0')}`;

  const create = async (bucket: DeletionBucket): Promise<void> => {
    const name = eventName(bucket);
    const { target } = bucket;
    const body: CoreV1Event = {
      metadata: { name, namespace: target.namespace },
      involvedObject:
        target.kind === 'Pod'
          ? { kind: 'Pod', apiVersion: 'v1', namespace: target.namespace, name: target.name, ...uidField(options.podUid?.(target.namespace, target.name)) }
          : // kubelet names the Node as its own uid; kubectl describe node matches on it.
            { kind: 'Node', apiVersion: 'v1', name: target.name, uid: target.name },
      reason: EVENT_REASON,
      message: eventMessageOf(bucket),
      type: 'Normal',
      count: bucket.count,
      firstTimestamp: new Date(bucket.firstMs),
      lastTimestamp: new Date(bucket.lastMs),
      source: { component: EVENT_COMPONENT, host: nodeName },
      reportingComponent: EVENT_COMPONENT,
      reportingInstance: nodeName,
    };
    await api.createNamespacedEvent({ namespace: target.namespace, body }, requestOptions(requestTimeoutMs));
    stats.created += 1;
    remember(bucket.key, { namespace: target.namespace, name, count: bucket.count, firstMs: bucket.firstMs, lastMs: bucket.lastMs });
  };

  /** False when the Event is gone (expired by the API server), so the caller creates a new one. */
  const patch = async (bucket: DeletionBucket, existing: RememberedEvent): Promise<boolean> => {
    const count = existing.count + bucket.count;
    try {
      await api.patchNamespacedEvent(
        {
          namespace: existing.namespace,
          name: existing.name,
          body: { count, lastTimestamp: new Date(bucket.lastMs).toISOString(), message: eventMessageOf(bucket) },
        },
        withHeader(requestOptions(requestTimeoutMs), 'Content-Type', PatchStrategy.MergePatch),
      );
    } catch (error) {
      if (statusCodeOf(error) === 404) return false;
      throw error;
    }
    stats.patched += 1;
    remember(bucket.key, { ...existing, count, lastMs: bucket.lastMs });
    return true;
  };

  const send = async (bucket: DeletionBucket): Promise<void> => {
    try {
      const existing = remembered.get(bucket.key);
      if (existing && now() - existing.lastMs < reuseWindowMs && (await patch(bucket, existing))) return;
      await create(bucket);
    } catch (error) {
      stats.failed += 1;
      logger.warn(
        { err: describeApiError(error), kind: bucket.target.kind, namespace: bucket.target.namespace, name: bucket.target.name, reason: bucket.reason },
        'could not record checkpoint deletion Event',
      );
    }
  };

  const sendWindow = async (): Promise<void> => {
    cancelScheduled?.();
    cancelScheduled = undefined;
    const window = [...pending.values()];
    pending = new Map();
    // Sequential on purpose: a window is at most maxEventsPerFlush small requests, and order keeps names monotonic.
    for (const bucket of window) await send(bucket);
  };

  const flush = (): Promise<void> => {
    flushing = flushing.then(sendWindow, sendWindow);
    return flushing;
  };

  return {
    record(deletion, bytes) {
      stats.recorded += 1;
      if (stopped) {
        stats.dropped += 1;
        return;
      }
      const key = bucketKeyOf(deletion, nodeName);
      const bucket = pending.get(key);
      if (!bucket && pending.size >= maxEventsPerFlush) {
        stats.dropped += 1;
        if (stats.dropped === 1 || stats.dropped % 100 === 0) logger.warn({ dropped: stats.dropped }, 'too many distinct deletion Events in one window; dropping');
        return;
      }
      pending.set(key, addToBucket(bucket, deletion, bytes, now(), nodeName));
      if (!cancelScheduled) {
        cancelScheduled = schedule(() => {
          cancelScheduled = undefined;
          void flush();
        }, flushIntervalMs);
      }
    },
    flush,
    async stop() {
      stopped = true;
      await flush();
    },
    stats: () => ({ ...stats }),
  };
}

export const POLICY_EVENT_REASON = 'InvalidCheckpointPolicy';

/** The CheckpointRestoreOperator an Event is about. */
export interface PolicyEventTarget {
  readonly namespace: string;
  readonly name: string;
  readonly uid?: string;
  readonly resourceVersion?: string;
}

export interface PolicyProblemEventWriterOptions {
  readonly kubeConfig: KubeConfig;
  readonly logger: Logger;
  readonly now: () => number;
  /** This node's name, shown as the reporting instance; absent without one. */
  readonly nodeName?: string;
  readonly requestTimeoutMs?: number;
  /** Reports waiting to be sent beyond this are dropped (and counted): one bad object per write is the norm. */
  readonly maxPending?: number;
}

export interface PolicyProblemEventStats {
  readonly reported: number;
  readonly created: number;
  /** Another node had already written the same Event (409): nothing more to say. */
  readonly alreadyReported: number;
  readonly failed: number;
  readonly dropped: number;
}

export interface PolicyProblemEventWriter {
  /** Never throws and never waits: the Event is sent in the background, one request at a time. */
  report(object: PolicyEventTarget, problems: readonly string[]): void;
  /** Resolves once everything reported so far has been sent (or has failed). */
  idle(): Promise<void>;
  /** Sends what is pending and stops; later reports are dropped. */
  stop(): Promise<void>;
  stats(): PolicyProblemEventStats;
}

const DEFAULT_MAX_PENDING_POLICY_EVENTS = 100;
/** Names already sent; a repeat of one of them is not sent again. */
const MAX_SENT_POLICY_EVENTS = 1_000;

/** `CheckpointRestoreOperator ns/name: spec.x: ...` → `spec.x: ...`: the Event already names the object. */
function withoutSource(problem: string, target: PolicyEventTarget): string {
  const prefix = `CheckpointRestoreOperator ${target.namespace}/${target.name}: `;
  return problem.startsWith(prefix) ? problem.slice(prefix.length) : problem;
}

/** The same on every node for one version of one object, so the nodes of a cluster write one Event between them. */
export function policyEventMessageOf(target: PolicyEventTarget, problems: readonly string[]): string {
  const message = `Invalid CheckpointRestoreOperator, not applied (nodes keep its last valid version, or run no retention without one): ${problems
    .map((problem) => withoutSource(problem, target))
    .join('; ')}`;
  return message.length > MAX_EVENT_MESSAGE_LENGTH ? `${message.slice(0, MAX_EVENT_MESSAGE_LENGTH - 1)}…` : message;
}

/** Deterministic per (object, version, message): the first node creates it, the others get 409 and stop there. */
export function policyEventNameOf(target: PolicyEventTarget, message: string): string {
  const digest = createHash('sha256').update(`${target.uid ?? ''}\u0000${target.resourceVersion ?? ''}\u0000${message}`).digest('hex').slice(0, 16);
  return `${target.name.slice(0, MAX_NAME_PREFIX)}.${digest}`;
}

/**
 * Writes a Warning Event (reason InvalidCheckpointPolicy) on a CheckpointRestoreOperator the exporter
 * refuses, so `kubectl describe` on the object says why it is not applied. Every node of the DaemonSet
 * sees the same object: the Event's name is derived from the object's uid, resourceVersion and the
 * problems, so one node creates it and the others' creates fail with 409 AlreadyExists, which counts as
 * reported. Failures are logged, never thrown.
 */
export function createPolicyProblemEventWriter(options: PolicyProblemEventWriterOptions): PolicyProblemEventWriter {
  const { logger, now } = options;
  const api = options.kubeConfig.makeApiClient(CoreV1Api);
  const requestTimeoutMs = options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
  const maxPending = options.maxPending ?? DEFAULT_MAX_PENDING_POLICY_EVENTS;
  const reportingInstance = options.nodeName !== undefined && options.nodeName !== '' ? options.nodeName : EVENT_COMPONENT;
  const stats = { reported: 0, created: 0, alreadyReported: 0, failed: 0, dropped: 0 };
  const sent = new Set<string>();
  let pending = 0;
  let chain: Promise<void> = Promise.resolve();
  let stopped = false;

  const send = async (target: PolicyEventTarget, message: string, name: string): Promise<void> => {
    const at = new Date(now());
    const body: CoreV1Event = {
      metadata: { name, namespace: target.namespace },
      involvedObject: {
        kind: 'CheckpointRestoreOperator',
        apiVersion: 'criu.org/v1',
        namespace: target.namespace,
        name: target.name,
        ...(target.uid !== undefined ? { uid: target.uid } : {}),
        ...(target.resourceVersion !== undefined ? { resourceVersion: target.resourceVersion } : {}),
      },
      reason: POLICY_EVENT_REASON,
      message,
      type: 'Warning',
      count: 1,
      firstTimestamp: at,
      lastTimestamp: at,
      source: { component: EVENT_COMPONENT, ...(options.nodeName ? { host: options.nodeName } : {}) },
      reportingComponent: EVENT_COMPONENT,
      reportingInstance,
    };
    try {
      await api.createNamespacedEvent({ namespace: target.namespace, body }, requestOptions(requestTimeoutMs));
      stats.created += 1;
    } catch (error) {
      if (statusCodeOf(error) === 409) {
        stats.alreadyReported += 1;
        return;
      }
      stats.failed += 1;
      sent.delete(name);
      logger.warn({ err: describeApiError(error), namespace: target.namespace, name: target.name }, 'could not record the invalid CheckpointRestoreOperator Event');
    }
  };

  return {
    report(target, problems) {
      stats.reported += 1;
      const message = policyEventMessageOf(target, problems);
      const name = policyEventNameOf(target, message);
      if (stopped || sent.has(name)) return;
      if (pending >= maxPending) {
        stats.dropped += 1;
        return;
      }
      sent.add(name);
      while (sent.size > MAX_SENT_POLICY_EVENTS) {
        const oldest = sent.values().next();
        if (oldest.done) break;
        sent.delete(oldest.value);
      }
      pending += 1;
      chain = chain.then(() => send(target, message, name)).finally(() => {
        pending -= 1;
      });
    },
    idle: () => chain,
    async stop() {
      stopped = true;
      await chain;
    },
    stats: () => ({ ...stats }),
  };
}
