import type { DeletionReason, PlannedDeletion } from '../retention/types.js';

/** What an Event is about: the archive's pod, or the Node when the archive has no identity. */
export interface EventTarget {
  readonly kind: 'Pod' | 'Node';
  /** Node events live in `default`, where kubectl describe node looks for them. */
  readonly namespace: string;
  readonly name: string;
}

/** Deletions of one (target, container, reason) within one flush window. */
export interface DeletionBucket {
  readonly key: string;
  readonly target: EventTarget;
  readonly container: string | undefined;
  readonly reason: DeletionReason;
  readonly count: number;
  readonly bytes: number;
  readonly lastFile: string;
  readonly lastBytes: number;
  readonly lastDetail: string;
  readonly firstMs: number;
  readonly lastMs: number;
}

export const NODE_EVENT_NAMESPACE = 'default';

/** Event messages past this are truncated by tooling (and by the API for events.k8s.io); stay under it. */
export const MAX_EVENT_MESSAGE_LENGTH = 1024;

export function eventTargetOf(deletion: PlannedDeletion, nodeName: string): EventTarget {
  return deletion.identity
    ? { kind: 'Pod', namespace: deletion.identity.namespace, name: deletion.identity.pod }
    : { kind: 'Node', namespace: NODE_EVENT_NAMESPACE, name: nodeName };
}

export function bucketKeyOf(deletion: PlannedDeletion, nodeName: string): string {
  const target = eventTargetOf(deletion, nodeName);
  return [target.kind, target.namespace, target.name, deletion.identity?.container ?? '', deletion.reason].join('\u0000');
}

/** Folds one deletion into its bucket (or starts one). */
export function addToBucket(bucket: DeletionBucket | undefined, deletion: PlannedDeletion, bytes: number, nowMs: number, nodeName: string): DeletionBucket {
  const safeBytes = Number.isFinite(bytes) && bytes > 0 ? bytes : 0;
  return {
    key: bucket?.key ?? bucketKeyOf(deletion, nodeName),
    target: bucket?.target ?? eventTargetOf(deletion, nodeName),
    container: deletion.identity?.container,
    reason: deletion.reason,
    count: (bucket?.count ?? 0) + 1,
    bytes: (bucket?.bytes ?? 0) + safeBytes,
    lastFile: deletion.fileName,
    lastBytes: safeBytes,
    lastDetail: deletion.detail,
    firstMs: bucket?.firstMs ?? nowMs,
    lastMs: nowMs,
  };
}

/**
 * `Deleted checkpoint archive <file> (<n> bytes) of container <c>, reason <r>: <detail>`; a window with several
 * deletions leads with the totals so truncation only ever cuts the detail.
 */
export function eventMessageOf(bucket: DeletionBucket): string {
  const owner = bucket.container === undefined ? 'with no identity' : `of container ${bucket.container}`;
  const message =
    bucket.count === 1
      ? `Deleted checkpoint archive ${bucket.lastFile} (${bucket.lastBytes} bytes) ${owner}, reason ${bucket.reason}: ${bucket.lastDetail}`
      : `Deleted ${bucket.count} checkpoint archives (${bucket.bytes} bytes) ${owner}, reason ${bucket.reason}; latest ${bucket.lastFile} (${bucket.lastBytes} bytes): ${bucket.lastDetail}`;
  return message.length > MAX_EVENT_MESSAGE_LENGTH ? `${message.slice(0, MAX_EVENT_MESSAGE_LENGTH - 1)}…` : message;
}
