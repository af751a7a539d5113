import type { ArchiveIdentity, FileFingerprint } from '../archive/types.js';

export type DeletionReason = 'size' | 'count' | 'total_size' | 'age' | 'orphan' | 'disk_pressure';
export const DELETION_REASONS: readonly DeletionReason[] = ['size', 'count', 'total_size', 'age', 'orphan', 'disk_pressure'];

/** Which limit: the same words as the deletion reasons (`count`: archives, `size` and `total_size`: bytes, `age`: seconds). */
export type LimitName = 'count' | 'size' | 'total_size' | 'age';

/** Limits of one specific (namespace, pod or container) policy. Unset or 0 means no limit. */
export interface PolicyLimits {
  readonly retainOrphan?: boolean;
  readonly maxCheckpoints?: number;
  /** Bytes. */
  readonly maxCheckpointSize?: number;
  /** Bytes. */
  readonly maxTotalSize?: number;
  /** Our extension: seconds, from the timestamp in the archive name. */
  readonly maxCheckpointAgeSeconds?: number;
  /** Our extension: when the count limit deletes, unrestorable archives go before restorable ones (unset: off). */
  readonly deleteUnrestorableFirst?: boolean;
}

/** Where a piece of policy came from, e.g. `file /etc/checkpoint-exporter/policy.yaml` or `CheckpointRestoreOperator ops/default`. */
export interface Sourced {
  readonly source: string;
}

/**
 * A specific policy merged from several entries for one scope (see mergePolicies): each field from the
 * entry whose setting deletes least. Absent when the policy is one entry, all from `source`.
 */
export interface FieldSourced {
  readonly fieldSources?: Readonly<Partial<Record<keyof PolicyLimits, string>>>;
}

/**
 * One field of one scope that several documents or objects set to different values. The setting
 * that deletes least applies (see least-deleting.ts); the others are reported, never silently shadowed.
 */
export interface PolicyConflict {
  /** The field as the effective policy names it: `maxCheckpoints`, `maxCheckpointsPerContainer`, `diskPressure.highThresholdPercent`, `orphanGracePeriodSeconds`. */
  readonly field: string;
  /** `global`, `node`, `namespace shop`, `pod shop/web-0`, `container shop/web-0/nginx`. */
  readonly scope: string;
  /** Every setting in precedence order; `null` is a field left unset in a specific policy (no limit). Bytes, seconds, percent. */
  readonly settings: readonly { readonly source: string; readonly value: number | boolean | string | null }[];
  readonly applied: { readonly source: string; readonly value: number | boolean | string | null };
  /** Why that setting applies. */
  readonly rule: string;
  /** One line for the log and `plan`. */
  readonly message: string;
}

export interface GlobalPolicy extends Sourced {
  readonly retainOrphan: boolean;
  readonly maxCheckpointsPerNamespace: number;
  readonly maxCheckpointsPerPod: number;
  readonly maxCheckpointsPerContainer: number;
  readonly maxCheckpointSize: number;
  readonly maxTotalSizePerNamespace: number;
  readonly maxTotalSizePerPod: number;
  readonly maxTotalSizePerContainer: number;
  readonly maxCheckpointAgeSeconds: number;
  /**
   * Our extension (default false): when a count limit must delete, archives that cannot be restored
   * (spec.dump, config.dump or checkpoint/inventory.img missing) go first, oldest first, then the
   * restorable ones oldest first.
   */
  readonly deleteUnrestorableFirst: boolean;
  /**
   * Our extension (default false): a pod-level archive a live PodCheckpoint object references is kept
   * like a pin unless this is true; then the pod limits may delete it like any other pod archive. A
   * pinned archive is kept either way.
   */
  readonly deleteReferencedPodCheckpoints: boolean;
  /** Where each field came from when fields were merged from several documents (absent: all from `source`). */
  readonly fieldSources?: Readonly<Partial<Record<GlobalPolicyField, string>>>;
}

export type GlobalPolicyField = Exclude<keyof GlobalPolicy, 'source' | 'fieldSources'>;

export interface NamespacePolicy extends PolicyLimits, Sourced, FieldSourced {
  readonly namespace: string;
}
export interface PodPolicy extends PolicyLimits, Sourced, FieldSourced {
  readonly namespace: string;
  readonly pod: string;
}
export interface ContainerPolicy extends PolicyLimits, Sourced, FieldSourced {
  readonly namespace: string;
  readonly pod: string;
  readonly container: string;
}

export interface DiskPressurePolicy extends Sourced {
  readonly highThresholdPercent: number;
  readonly lowThresholdPercent: number;
  readonly keepNewestPerContainer: number;
}

/** The effective, merged policy the planner runs on. Immutable. */
export interface RetentionPolicy {
  readonly checkpointDirectory: string | undefined;
  readonly global: GlobalPolicy;
  readonly namespacePolicies: readonly NamespacePolicy[];
  readonly podPolicies: readonly PodPolicy[];
  readonly containerPolicies: readonly ContainerPolicy[];
  readonly diskPressure: DiskPressurePolicy | undefined;
  readonly orphanGracePeriodSeconds: number;
  /** Where checkpointDirectory and orphanGracePeriod came from (absent: defaults). */
  readonly settingSources?: Readonly<{ checkpointDirectory?: string; orphanGracePeriod?: string }>;
  /** Fields set differently by several documents, and which setting applies (absent or empty: none). */
  readonly conflicts?: readonly PolicyConflict[];
}

/** What the Kubernetes view knows of an archive's owner. Any doubt is `unknown`, never `orphan`. */
export type OwnerState =
  | { readonly state: 'alive' }
  | { readonly state: 'orphan'; /** Since when it has been continuously known-orphan (epoch ms). */ readonly sinceMs: number }
  | { readonly state: 'unknown'; readonly reason: string };

export type OwnerLookup = (identity: ArchiveIdentity) => OwnerState;

/** statfs of the filesystem holding the checkpoint directory. */
export interface DiskStats {
  readonly sizeBytes: number;
  /** Free blocks, including those reserved for root. */
  readonly freeBytes: number;
  /** Free blocks available to unprivileged users (what df shows as Avail). */
  readonly availBytes: number;
}

export interface ScopeRef {
  readonly level: 'container' | 'pod' | 'namespace' | 'node';
  readonly namespace?: string;
  readonly pod?: string;
  readonly container?: string;
}

export interface PlannedDeletion {
  readonly fileName: string;
  /** As seen at planning time; the executor refuses to unlink if the file no longer matches. */
  readonly fingerprint: FileFingerprint;
  readonly identity: ArchiveIdentity | undefined;
  readonly reason: DeletionReason;
  /** The limit value that selected it (archives, bytes or seconds), when a limit did. */
  readonly limitValue: number | undefined;
  readonly scope: ScopeRef;
  readonly policySource: string;
  /** One human sentence, logged and shown by `plan`. */
  readonly detail: string;
}

export interface LimitLabels {
  readonly namespace: string;
  /** Empty for namespace-level limits. */
  readonly pod: string;
  /** Empty for pod- and namespace-level limits. */
  readonly container: string;
  readonly limit: LimitName;
}

export interface EffectiveLimit extends LimitLabels {
  readonly value: number;
  readonly policySource: string;
}

export interface UnsatisfiableLimit extends LimitLabels {
  readonly value: number;
  readonly policySource: string;
  readonly detail: string;
}

/** Device and inode of the checkpoint directory (its path followed through symlinks). */
export interface DirectoryIdentity {
  readonly dev: number;
  readonly ino: number;
}

export interface RetentionPlan {
  readonly deletions: readonly PlannedDeletion[];
  /** Identified archives whose name's time lies beyond the tolerance ahead of the clock: set aside, neither counted nor deleted. */
  readonly futureDated?: readonly string[];
  readonly unsatisfiable: readonly UnsatisfiableLimit[];
  readonly effectiveLimits: readonly EffectiveLimit[];
  /**
   * The directory the snapshot listed. The executor refuses to unlink once the directory path leads
   * elsewhere (a swapped symlink, a remount, a recreated directory), and refuses a plan without it.
   */
  readonly directoryIdentity?: DirectoryIdentity;
}

/** Callbacks the executor reports through; metrics and Kubernetes Events implement them. */
export interface RetentionObserver {
  onDeleted(deletion: PlannedDeletion, bytes: number): void;
  onError(operation: 'lstat' | 'unlink' | 'verify', deletion: PlannedDeletion, error: unknown): void;
}
