import type { PolicyDocument, PolicyOrigin } from './policy-document.js';
import { formatDuration } from './duration.js';
import type { ContainerPolicy, GlobalPolicy, GlobalPolicyField, NamespacePolicy, PodPolicy, PolicyLimits, RetentionPolicy } from './types.js';

export const DEFAULT_SOURCE = 'default';
/** An owner gone this long is an orphan; a short pause rides out pod restarts and informer resyncs. */
export const DEFAULT_ORPHAN_GRACE_PERIOD_SECONDS = 600;
/**
 * With no policy at all, only 10 archives per container are kept. The upstream operator also adds 20 per
 * pod and 30 per namespace when nothing is configured; those are deliberately not applied here, as a
 * pod with three containers would otherwise lose archives no container limit asked to delete.
 */
export const DEFAULT_MAX_CHECKPOINTS_PER_CONTAINER = 10;

const GLOBAL_FIELDS: readonly GlobalPolicyField[] = [
  'retainOrphan',
  'maxCheckpointsPerNamespace',
  'maxCheckpointsPerPod',
  'maxCheckpointsPerContainer',
  'maxCheckpointSize',
  'maxTotalSizePerNamespace',
  'maxTotalSizePerPod',
  'maxTotalSizePerContainer',
  'maxCheckpointAgeSeconds',
  'deleteUnrestorableFirst',
];

const DEFAULT_GLOBAL: Omit<GlobalPolicy, 'source' | 'fieldSources'> = {
  retainOrphan: true,
  maxCheckpointsPerNamespace: 0,
  maxCheckpointsPerPod: 0,
  maxCheckpointsPerContainer: DEFAULT_MAX_CHECKPOINTS_PER_CONTAINER,
  maxCheckpointSize: 0,
  maxTotalSizePerNamespace: 0,
  maxTotalSizePerPod: 0,
  maxTotalSizePerContainer: 0,
  maxCheckpointAgeSeconds: 0,
  deleteUnrestorableFirst: false,
};

export function defaultRetentionPolicy(): RetentionPolicy {
  return mergePolicies([]);
}

const ORIGIN_RANK: Readonly<Record<PolicyOrigin, number>> = { file: 0, cluster: 1 };

const compareText = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** Objects the exporter's namespace wrote outrank objects confined to their own namespace. */
const confinedRank = (doc: PolicyDocument): number => (doc.confinedTo === undefined ? 0 : 1);
/** The file's documents rank in the order they are written. */
const fileIndex = (doc: PolicyDocument): number => (doc.origin === 'file' ? doc.index : 0);

/** Total order on documents that depends on what they are, never on the order they arrived in. */
function compareDocuments(a: PolicyDocument, b: PolicyDocument): number {
  return (
    ORIGIN_RANK[a.origin] - ORIGIN_RANK[b.origin] ||
    fileIndex(a) - fileIndex(b) ||
    confinedRank(a) - confinedRank(b) ||
    compareText(a.namespace, b.namespace) ||
    compareText(a.name, b.name) ||
    a.index - b.index ||
    compareText(a.source, b.source) ||
    // Identical keys (a duplicated object): fall back to content so the winner is still fixed.
    compareText(JSON.stringify(a), JSON.stringify(b))
  );
}

/**
 * Merges the policy file and any number of CheckpointRestoreOperator objects into one policy.
 *
 * Rule: documents are put in a fixed precedence order (the node's policy file first, in document
 * order, then cluster objects in the exporter's namespace by name, then every other cluster object by
 * namespace and name, each of which may only speak for its own namespace), and the first document in
 * that order that sets something wins it:
 * - each globalPolicy field, checkpointDirectory and orphanGracePeriod, field by field, falling back to
 *   the defaults (10 archives per container, orphans retained, 10m grace);
 * - each specific policy as a whole entry, per exact scope (namespace / pod / container): a later
 *   entry for the same scope is ignored, since within a specific policy an unset field means "no limit"
 *   and mixing fields of two entries would make a policy nobody wrote;
 * - diskPressure as a whole.
 *
 * Precedence rather than "most restrictive wins": this code deletes files, and "most restrictive"
 * would let any object in the cluster tighten every limit on every node. The file, shipped with the
 * DaemonSet by whoever runs the node, outranks cluster objects. Upstream's "last reconciled wins"
 * depends on event timing; this rule depends only on the documents, so the same inputs in any order
 * merge to the same policy, and every part records its `source`.
 */
export function mergePolicies(docs: readonly PolicyDocument[]): RetentionPolicy {
  const ordered = [...docs].sort(compareDocuments);

  const global: { -readonly [K in GlobalPolicyField]: GlobalPolicy[K] } = { ...DEFAULT_GLOBAL };
  const fieldSources: Partial<Record<GlobalPolicyField, string>> = {};
  for (const doc of ordered) {
    const settings = doc.globalPolicy;
    if (!settings) continue;
    for (const field of GLOBAL_FIELDS) {
      const value = settings[field];
      if (value === undefined || fieldSources[field] !== undefined) continue;
      (global as Record<GlobalPolicyField, number | boolean>)[field] = value;
      fieldSources[field] = settings.source;
    }
  }
  const globalSource = ordered.find((doc) => doc.globalPolicy)?.globalPolicy?.source ?? DEFAULT_SOURCE;

  const firstBy = <T extends PolicyLimits>(lists: readonly (readonly T[])[], key: (policy: T) => string): T[] => {
    const byScope = new Map<string, T>();
    for (const list of lists) for (const policy of list) if (!byScope.has(key(policy))) byScope.set(key(policy), policy);
    return [...byScope.values()];
  };

  const firstSetting = <T>(pick: (doc: PolicyDocument) => T | undefined): { value: T; source: string } | undefined => {
    for (const doc of ordered) {
      const value = pick(doc);
      if (value !== undefined) return { value, source: doc.source };
    }
    return undefined;
  };
  const directory = firstSetting((doc) => doc.checkpointDirectory);
  const grace = firstSetting((doc) => doc.orphanGracePeriodSeconds);
  const settingSources: { checkpointDirectory?: string; orphanGracePeriod?: string } = {};
  if (directory) settingSources.checkpointDirectory = directory.source;
  if (grace) settingSources.orphanGracePeriod = grace.source;

  return {
    checkpointDirectory: directory?.value,
    global: { ...global, source: globalSource, fieldSources },
    namespacePolicies: firstBy<NamespacePolicy>(
      ordered.map((doc) => doc.namespacePolicies),
      (p) => p.namespace,
    ),
    podPolicies: firstBy<PodPolicy>(
      ordered.map((doc) => doc.podPolicies),
      (p) => `${p.namespace}/${p.pod}`,
    ),
    containerPolicies: firstBy<ContainerPolicy>(
      ordered.map((doc) => doc.containerPolicies),
      (p) => `${p.namespace}/${p.pod}/${p.container}`,
    ),
    diskPressure: ordered.find((doc) => doc.diskPressure)?.diskPressure,
    orphanGracePeriodSeconds: grace?.value ?? DEFAULT_ORPHAN_GRACE_PERIOD_SECONDS,
    settingSources,
  };
}

export interface DescribedSetting<T> {
  readonly value: T;
  readonly source: string;
}

export type PolicyDescription = ReturnType<typeof describePolicy>;

/** Limits of a specific policy with their source; sizes stay in bytes so the JSON is unambiguous. */
function describeLimits(policy: PolicyLimits & { source: string }): Record<string, unknown> {
  return {
    retainOrphan: policy.retainOrphan ?? null,
    maxCheckpoints: policy.maxCheckpoints ?? null,
    maxCheckpointSizeBytes: policy.maxCheckpointSize ?? null,
    maxTotalSizeBytes: policy.maxTotalSize ?? null,
    maxCheckpointAgeSeconds: policy.maxCheckpointAgeSeconds ?? null,
    deleteUnrestorableFirst: policy.deleteUnrestorableFirst ?? null,
    source: policy.source,
  };
}

/** The effective policy as JSON for `GET /api/v1/policy`: every value next to where it came from. */
export function describePolicy(policy: RetentionPolicy) {
  const globalFields = Object.fromEntries(
    GLOBAL_FIELDS.map((field) => [field, { value: policy.global[field], source: policy.global.fieldSources?.[field] ?? DEFAULT_SOURCE }]),
  ) as Record<GlobalPolicyField, DescribedSetting<number | boolean>>;
  return {
    checkpointDirectory: {
      value: policy.checkpointDirectory ?? null,
      source: policy.settingSources?.checkpointDirectory ?? DEFAULT_SOURCE,
    },
    orphanGracePeriod: {
      value: formatDuration(policy.orphanGracePeriodSeconds),
      seconds: policy.orphanGracePeriodSeconds,
      source: policy.settingSources?.orphanGracePeriod ?? DEFAULT_SOURCE,
    },
    globalPolicy: globalFields,
    namespacePolicies: policy.namespacePolicies.map((p) => ({ namespace: p.namespace, ...describeLimits(p) })),
    podPolicies: policy.podPolicies.map((p) => ({ namespace: p.namespace, pod: p.pod, ...describeLimits(p) })),
    containerPolicies: policy.containerPolicies.map((p) => ({ namespace: p.namespace, pod: p.pod, container: p.container, ...describeLimits(p) })),
    diskPressure: policy.diskPressure
      ? {
          highThresholdPercent: policy.diskPressure.highThresholdPercent,
          lowThresholdPercent: policy.diskPressure.lowThresholdPercent,
          keepNewestPerContainer: policy.diskPressure.keepNewestPerContainer,
          source: policy.diskPressure.source,
        }
      : null,
  };
}
