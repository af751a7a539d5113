import type { PolicyDocument, PolicyOrigin } from './policy-document.js';
import { formatDuration } from './duration.js';
import { disagree, formatSetting, leastDeleting, RULE_TEXT, type FieldKind, type Setting, type SettingValue, type ValueUnit } from './least-deleting.js';
import type {
  ContainerPolicy,
  DiskPressurePolicy,
  FieldSourced,
  GlobalPolicy,
  GlobalPolicyField,
  NamespacePolicy,
  PodPolicy,
  PolicyConflict,
  PolicyLimits,
  RetentionPolicy,
  Sourced,
} from './types.js';

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
  'deleteReferencedPodCheckpoints',
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
  deleteReferencedPodCheckpoints: false,
};

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

/** How each global field is compared and shown. */
const GLOBAL_FIELD_KINDS: Readonly<Record<GlobalPolicyField, readonly [FieldKind, ValueUnit]>> = {
  retainOrphan: ['retain', 'flag'],
  maxCheckpointsPerNamespace: ['limit', 'count'],
  maxCheckpointsPerPod: ['limit', 'count'],
  maxCheckpointsPerContainer: ['limit', 'count'],
  maxCheckpointSize: ['limit', 'bytes'],
  maxTotalSizePerNamespace: ['limit', 'bytes'],
  maxTotalSizePerPod: ['limit', 'bytes'],
  maxTotalSizePerContainer: ['limit', 'bytes'],
  maxCheckpointAgeSeconds: ['limit', 'seconds'],
  deleteUnrestorableFirst: ['oldestFirst', 'flag'],
  deleteReferencedPodCheckpoints: ['keepReferenced', 'flag'],
};

type LimitField = keyof PolicyLimits;
/** Fields of a namespace, pod or container policy; unset means no limit (retainOrphan: true, deleteUnrestorableFirst: false). */
const LIMIT_FIELD_KINDS: Readonly<Record<LimitField, readonly [FieldKind, ValueUnit]>> = {
  retainOrphan: ['retain', 'flag'],
  maxCheckpoints: ['limit', 'count'],
  maxCheckpointSize: ['limit', 'bytes'],
  maxTotalSize: ['limit', 'bytes'],
  maxCheckpointAgeSeconds: ['limit', 'seconds'],
  deleteUnrestorableFirst: ['oldestFirst', 'flag'],
};
const LIMIT_FIELDS = Object.keys(LIMIT_FIELD_KINDS) as LimitField[];

const DISK_PRESSURE_FIELDS = ['highThresholdPercent', 'lowThresholdPercent', 'keepNewestPerContainer'] as const;

/** Collects the conflicts of one merge. */
class Conflicts {
  readonly list: PolicyConflict[] = [];

  /** The setting that deletes least; a conflict is recorded when the settings disagree. */
  resolve<T extends SettingValue>(kind: FieldKind, unit: ValueUnit, field: string, scope: string, settings: readonly Setting<T>[], rule = RULE_TEXT[kind]): Setting<T> | undefined {
    const applied = leastDeleting(kind, settings);
    if (applied !== undefined && settings.length > 1 && disagree(kind, settings)) this.add(kind, unit, field, scope, settings, applied, rule);
    return applied;
  }

  add(kind: FieldKind, unit: ValueUnit, field: string, scope: string, settings: readonly Setting[], applied: Setting, rule: string): void {
    const shown = (s: Setting): string => `${formatSetting(kind, unit, s.value)} by ${s.source}`;
    this.list.push({
      field,
      scope,
      settings: settings.map((s) => ({ source: s.source, value: s.value })),
      applied: { source: applied.source, value: applied.value },
      rule,
      message: `${scope} ${field} is set differently: ${settings.map(shown).join(', ')}; ${shown(applied)} applies: ${rule}`,
    });
  }
}

const scopeName = (level: 'namespace' | 'pod' | 'container', key: string): string => `${level} ${key}`;

/**
 * Entries for one exact scope, in precedence order, merged field by field: each field takes the
 * setting that deletes least, where an unset field of an entry means no limit (that is what it means
 * in a specific policy). One entry stays as it is.
 */
function mergeScope<T extends PolicyLimits & Sourced & FieldSourced>(entries: readonly T[], scope: string, conflicts: Conflicts): T {
  const [first] = entries;
  if (first === undefined) throw new Error('mergeScope needs an entry');
  if (entries.length === 1) return first;
  const merged: Record<string, unknown> = { ...(first as object) };
  const fieldSources: Partial<Record<LimitField, string>> = {};
  for (const field of LIMIT_FIELDS) {
    const [kind, unit] = LIMIT_FIELD_KINDS[field];
    const settings = entries.map((e) => ({ value: (e[field] ?? null) as SettingValue, source: e.source }));
    const applied = conflicts.resolve(kind, unit, field, scope, settings);
    if (applied === undefined || applied.value === null) delete merged[field];
    else merged[field] = applied.value;
    if (applied !== undefined && applied.value !== null) fieldSources[field] = applied.source;
  }
  const contributing = [...new Set(Object.values(fieldSources))];
  merged['source'] = contributing.length === 0 ? first.source : contributing.join(' and ');
  merged['fieldSources'] = fieldSources;
  return merged as T;
}

/**
 * Merges the policy file and any number of CheckpointRestoreOperator objects into one policy.
 *
 * Documents are put in a fixed precedence order (the node's policy file first, in document order,
 * then cluster objects in the exporter's namespace by name, then every other cluster object by
 * namespace and name, each of which may only speak for its own namespace). A field set by one
 * document takes its value; a field several documents set takes the setting that deletes least
 * (least-deleting.ts), and when they disagree the conflict is recorded in `conflicts`:
 * - each globalPolicy field separately, falling back to the defaults (10 archives per container,
 *   orphans retained) when no document sets it;
 * - each namespace, pod and container policy per exact scope, field by field, where an unset field of
 *   one entry means no limit for the scope (what it means in a specific policy): two entries never
 *   make a limit neither of them wrote;
 * - each diskPressure field, and orphanGracePeriod;
 * - checkpointDirectory is not a limit: the first document in precedence order sets it, and a
 *   different one elsewhere is reported.
 *
 * The same mistake inside one document is refused outright (policy-document.ts); across documents
 * each may be valid alone, so nothing is refused: the merge keeps more rather than less, and says so.
 * Precedence, not "most restrictive wins": that would let any object in the cluster tighten every
 * limit on every node. The result depends only on the documents, never on their order of arrival,
 * and every part records its source.
 */
export function mergePolicies(docs: readonly PolicyDocument[]): RetentionPolicy {
  const ordered = [...docs].sort(compareDocuments);
  const conflicts = new Conflicts();

  const global: { -readonly [K in GlobalPolicyField]: GlobalPolicy[K] } = { ...DEFAULT_GLOBAL };
  const fieldSources: Partial<Record<GlobalPolicyField, string>> = {};
  for (const field of GLOBAL_FIELDS) {
    const settings: Setting[] = [];
    for (const doc of ordered) {
      const value = doc.globalPolicy?.[field];
      if (value !== undefined) settings.push({ value, source: doc.globalPolicy?.source ?? doc.source });
    }
    const [kind, unit] = GLOBAL_FIELD_KINDS[field];
    const applied = conflicts.resolve(kind, unit, field, 'global', settings);
    if (applied === undefined) continue;
    (global as Record<GlobalPolicyField, SettingValue>)[field] = applied.value;
    fieldSources[field] = applied.source;
  }
  const globalSource = ordered.find((doc) => doc.globalPolicy)?.globalPolicy?.source ?? DEFAULT_SOURCE;

  const byScope = <T extends PolicyLimits & Sourced & FieldSourced>(lists: readonly (readonly T[])[], level: 'namespace' | 'pod' | 'container', key: (policy: T) => string): T[] => {
    const entries = new Map<string, T[]>();
    for (const list of lists) {
      for (const policy of list) {
        const k = key(policy);
        const known = entries.get(k);
        if (known === undefined) entries.set(k, [policy]);
        else known.push(policy);
      }
    }
    return [...entries].map(([k, list]) => mergeScope(list, scopeName(level, k), conflicts));
  };

  const settingsOf = <T extends SettingValue>(pick: (doc: PolicyDocument) => T | undefined): Setting<T>[] =>
    ordered.flatMap((doc) => {
      const value = pick(doc);
      return value === undefined ? [] : [{ value, source: doc.source }];
    });
  const directories = settingsOf((doc) => doc.checkpointDirectory);
  const directory = directories[0];
  if (directory !== undefined && directories.some((d) => d.value !== directory.value)) {
    conflicts.add('higher', 'text', 'checkpointDirectory', 'node', directories, directory, 'not a limit: the first source in precedence order applies');
  }
  const grace = conflicts.resolve('higher', 'seconds', 'orphanGracePeriodSeconds', 'node', settingsOf((doc) => doc.orphanGracePeriodSeconds), 'the longer grace period deletes less');
  const settingSources: { checkpointDirectory?: string; orphanGracePeriod?: string } = {};
  if (directory) settingSources.checkpointDirectory = directory.source;
  if (grace) settingSources.orphanGracePeriod = grace.source;

  const pressures = ordered.flatMap((doc) => (doc.diskPressure === undefined ? [] : [doc.diskPressure]));
  let diskPressure: DiskPressurePolicy | undefined = pressures[0];
  if (diskPressure !== undefined && pressures.length > 1) {
    const merged = { ...diskPressure };
    const sources = new Set<string>();
    for (const field of DISK_PRESSURE_FIELDS) {
      const applied = conflicts.resolve(
        'higher',
        field === 'keepNewestPerContainer' ? 'count' : 'percent',
        `diskPressure.${field}`,
        'node',
        pressures.map((p) => ({ value: p[field], source: p.source })),
        field === 'keepNewestPerContainer' ? 'keeping more archives per container deletes less' : 'the higher mark deletes less',
      );
      if (applied === undefined) continue;
      merged[field] = applied.value;
      sources.add(applied.source);
    }
    // Each mark is the highest set, so low stays at or below high as in every document.
    diskPressure = { ...merged, source: [...sources].join(' and ') };
  }

  return {
    checkpointDirectory: directory?.value,
    global: { ...global, source: globalSource, fieldSources },
    namespacePolicies: byScope<NamespacePolicy>(
      ordered.map((doc) => doc.namespacePolicies),
      'namespace',
      (p) => p.namespace,
    ),
    podPolicies: byScope<PodPolicy>(
      ordered.map((doc) => doc.podPolicies),
      'pod',
      (p) => `${p.namespace}/${p.pod}`,
    ),
    containerPolicies: byScope<ContainerPolicy>(
      ordered.map((doc) => doc.containerPolicies),
      'container',
      (p) => `${p.namespace}/${p.pod}/${p.container}`,
    ),
    diskPressure,
    orphanGracePeriodSeconds: grace?.value ?? DEFAULT_ORPHAN_GRACE_PERIOD_SECONDS,
    settingSources,
    conflicts: conflicts.list,
  };
}

export interface DescribedSetting<T> {
  readonly value: T;
  readonly source: string;
}

/** Limits of a specific policy with their source; sizes stay in bytes so the JSON is unambiguous. */
function describeLimits(policy: PolicyLimits & Sourced & FieldSourced): Record<string, unknown> {
  return {
    retainOrphan: policy.retainOrphan ?? null,
    maxCheckpoints: policy.maxCheckpoints ?? null,
    maxCheckpointSizeBytes: policy.maxCheckpointSize ?? null,
    maxTotalSizeBytes: policy.maxTotalSize ?? null,
    maxCheckpointAgeSeconds: policy.maxCheckpointAgeSeconds ?? null,
    deleteUnrestorableFirst: policy.deleteUnrestorableFirst ?? null,
    source: policy.source,
    // Merged from several entries for the scope: the entry behind each field that is set.
    ...(policy.fieldSources !== undefined ? { fieldSources: policy.fieldSources } : {}),
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
