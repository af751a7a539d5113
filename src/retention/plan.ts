import type { ArchiveIdentity } from '../archive/types.js';
import type { ArchiveRecord, InventorySnapshot } from '../inventory/types.js';
import { formatDuration } from './duration.js';
import { DEFAULT_SOURCE } from './merge-policies.js';
import { formatBytes } from './quantity.js';
import type {
  DeletionReason,
  DiskStats,
  EffectiveLimit,
  GlobalPolicyField,
  LimitName,
  OwnerLookup,
  OwnerState,
  PlannedDeletion,
  PolicyLimits,
  RetentionPlan,
  RetentionPolicy,
  ScopeRef,
  Sourced,
  UnsatisfiableLimit,
} from './types.js';

export interface PlanInput {
  readonly snapshot: InventorySnapshot;
  readonly policy: RetentionPolicy;
  readonly owners: OwnerLookup;
  readonly disk: DiskStats | undefined;
  readonly nowMs: number;
}

type Level = 'container' | 'pod' | 'namespace';

/** The limits one group of archives answers to, resolved from a specific policy or the global one. */
interface Rule {
  readonly level: Level;
  readonly count: number;
  readonly totalSize: number;
  readonly countSource: string;
  readonly totalSizeSource: string;
}

/** What governs one archive: the most specific policy that covers it. */
interface Governor {
  readonly level: Level | 'global';
  readonly limits: Required<Omit<PolicyLimits, 'retainOrphan'>> & { readonly retainOrphan: boolean };
  readonly source: string;
  /** Where per-archive limits (size, age) are labelled. */
  readonly scope: ScopeRef;
}

interface Entry {
  readonly record: ArchiveRecord;
  readonly identity: ArchiveIdentity;
  readonly governor: Governor;
}

const SEP = '\u0000';
const containerKey = (id: ArchiveIdentity): string => `${id.namespace}${SEP}${id.pod}${SEP}${id.container}`;
const podKey = (id: { namespace: string; pod: string }): string => `${id.namespace}${SEP}${id.pod}`;

/** Oldest first by the name's timestamp; ties by mtime, then name, so the order never depends on input order. */
function compareAge(a: ArchiveRecord, b: ArchiveRecord): number {
  return (
    a.name.timestampMs - b.name.timestampMs ||
    a.fingerprint.mtimeMs - b.fingerprint.mtimeMs ||
    (a.fileName < b.fileName ? -1 : a.fileName > b.fileName ? 1 : 0)
  );
}

function scopeOf(level: Level, id: ArchiveIdentity): ScopeRef {
  if (level === 'namespace') return { level, namespace: id.namespace };
  if (level === 'pod') return { level, namespace: id.namespace, pod: id.pod };
  return { level, namespace: id.namespace, pod: id.pod, container: id.container };
}

function describeScope(scope: ScopeRef): string {
  if (scope.level === 'node') return 'node';
  const path = [scope.namespace, scope.pod, scope.container].filter((part) => part !== undefined).join('/');
  return `${scope.level} ${path}`;
}

function labelsOf(scope: ScopeRef, limit: LimitName): { namespace: string; pod: string; container: string; limit: LimitName } {
  return { namespace: scope.namespace ?? '', pod: scope.pod ?? '', container: scope.container ?? '', limit };
}

const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;

/**
 * Decides which archives go, on one consistent snapshot, without touching the filesystem.
 *
 * Per archive the most specific policy wins (container → pod → namespace → global), scopes matched
 * exactly. Per-archive limits go first (`size`, then `age`, then `orphan`), then the count and total
 * size limits of each group, narrowest level first, oldest first, so a broader limit only sees what
 * narrower ones left. Disk pressure comes last and only takes what is still needed. Pinned and
 * unidentified archives are never planned; unidentified ones are not counted by any scope either,
 * since nothing says which scope they belong to, and disk pressure skips them too, because deleting
 * a file we cannot attribute would also bypass keepNewestPerContainer.
 */
export function planRetention(input: PlanInput): RetentionPlan {
  const { snapshot, policy, nowMs } = input;
  const deletions: PlannedDeletion[] = [];
  const planned = new Set<string>();
  const unsatisfiable = new Map<string, UnsatisfiableLimit>();
  const ownerCache = new Map<string, OwnerState>();
  const ownerOf = (id: ArchiveIdentity): OwnerState => {
    const key = containerKey(id);
    let state = ownerCache.get(key);
    if (state === undefined) {
      state = input.owners(id);
      ownerCache.set(key, state);
    }
    return state;
  };

  const containerPolicies = new Map(policy.containerPolicies.map((p) => [containerKey(p), p]));
  const podPolicies = new Map(policy.podPolicies.map((p) => [podKey(p), p]));
  const namespacePolicies = new Map(policy.namespacePolicies.map((p) => [p.namespace, p]));
  const g = policy.global;
  const globalSource = (field: GlobalPolicyField): string => sourceOfGlobalField(g, field);

  const governorCache = new Map<string, Governor>();
  const governorOf = (id: ArchiveIdentity): Governor => {
    const key = containerKey(id);
    const cached = governorCache.get(key);
    if (cached) return cached;
    const specific = resolveSpecific(containerPolicies.get(key), podPolicies.get(podKey(id)), namespacePolicies.get(id.namespace));
    const governor: Governor =
      specific
        ? {
            level: specific.level,
            limits: {
              retainOrphan: specific.policy.retainOrphan ?? true,
              maxCheckpoints: specific.policy.maxCheckpoints ?? 0,
              maxCheckpointSize: specific.policy.maxCheckpointSize ?? 0,
              maxTotalSize: specific.policy.maxTotalSize ?? 0,
              maxCheckpointAgeSeconds: specific.policy.maxCheckpointAgeSeconds ?? 0,
            },
            source: specific.policy.source,
            scope: scopeOf(specific.level, id),
          }
        : {
            level: 'global',
            limits: {
              retainOrphan: g.retainOrphan,
              maxCheckpoints: g.maxCheckpointsPerContainer,
              maxCheckpointSize: g.maxCheckpointSize,
              maxTotalSize: g.maxTotalSizePerContainer,
              maxCheckpointAgeSeconds: g.maxCheckpointAgeSeconds,
            },
            source: g.source,
            scope: scopeOf('container', id),
          };
    governorCache.set(key, governor);
    return governor;
  };

  const entries: Entry[] = [];
  for (const record of snapshot.archives) {
    if (record.identity) entries.push({ record, identity: record.identity, governor: governorOf(record.identity) });
  }
  entries.sort((a, b) => compareAge(a.record, b.record));

  const plan = (entry: Entry, reason: DeletionReason, limitValue: number | undefined, scope: ScopeRef, policySource: string, detail: string): void => {
    planned.add(entry.record.fileName);
    deletions.push({
      fileName: entry.record.fileName,
      fingerprint: entry.record.fingerprint,
      identity: entry.identity,
      reason,
      limitValue,
      scope,
      policySource,
      detail,
    });
  };
  const reportUnsatisfiable = (scope: ScopeRef, limit: LimitName, value: number, policySource: string, detail: string): void => {
    const labels = labelsOf(scope, limit);
    const key = [labels.namespace, labels.pod, labels.container, limit].join(SEP);
    if (!unsatisfiable.has(key)) unsatisfiable.set(key, { ...labels, value, policySource, detail });
  };

  // Per-archive limits: size, then age, then orphan.
  for (const entry of entries) {
    const { record, governor } = entry;
    const { maxCheckpointSize, maxCheckpointAgeSeconds } = governor.limits;
    const sizeSource = governor.level === 'global' ? globalSource('maxCheckpointSize') : governor.source;
    const ageSource = governor.level === 'global' ? globalSource('maxCheckpointAgeSeconds') : governor.source;
    const where = describeScope(governor.scope);
    if (maxCheckpointSize > 0 && record.fingerprint.size > maxCheckpointSize) {
      const text = `${record.fileName} is ${formatBytes(record.fingerprint.size)}, over the ${formatBytes(maxCheckpointSize)} per-archive limit of ${where} (${sizeSource})`;
      if (record.pinned) reportUnsatisfiable(governor.scope, 'size', maxCheckpointSize, sizeSource, `pinned ${text}`);
      else plan(entry, 'size', maxCheckpointSize, governor.scope, sizeSource, text);
      continue;
    }
    const ageSeconds = Math.floor((nowMs - record.name.timestampMs) / 1000);
    if (maxCheckpointAgeSeconds > 0 && ageSeconds > maxCheckpointAgeSeconds) {
      const text = `${record.fileName} is ${formatDuration(ageSeconds)} old, over the ${formatDuration(maxCheckpointAgeSeconds)} age limit of ${where} (${ageSource})`;
      if (record.pinned) reportUnsatisfiable(governor.scope, 'age_seconds', maxCheckpointAgeSeconds, ageSource, `pinned ${text}`);
      else plan(entry, 'age', maxCheckpointAgeSeconds, governor.scope, ageSource, text);
      continue;
    }
    if (!governor.limits.retainOrphan && !record.pinned) {
      const owner = ownerOf(entry.identity);
      const graceMs = policy.orphanGracePeriodSeconds * 1000;
      if (owner.state === 'orphan' && nowMs - owner.sinceMs >= graceMs) {
        const orphanSource = governor.level === 'global' ? globalSource('retainOrphan') : governor.source;
        const gone = formatDuration(Math.max(0, Math.floor((nowMs - owner.sinceMs) / 1000)));
        const text = `pod ${entry.identity.namespace}/${entry.identity.pod} has been gone for ${gone} (grace ${formatDuration(policy.orphanGracePeriodSeconds)}) and retainOrphan is false (${orphanSource})`;
        plan(entry, 'orphan', undefined, governor.scope, orphanSource, text);
      }
    }
  }

  // Group limits, narrowest level first so broader limits count only what narrower ones kept.
  const groups = new Map<string, { rule: Rule; scope: ScopeRef; members: Entry[] }>();
  const addToGroup = (key: string, rule: Rule, scope: ScopeRef, entry: Entry): void => {
    let group = groups.get(key);
    if (!group) {
      group = { rule, scope, members: [] };
      groups.set(key, group);
    }
    group.members.push(entry);
  };
  const globalRules: readonly Rule[] = [
    { level: 'container', count: g.maxCheckpointsPerContainer, totalSize: g.maxTotalSizePerContainer, countSource: globalSource('maxCheckpointsPerContainer'), totalSizeSource: globalSource('maxTotalSizePerContainer') },
    { level: 'pod', count: g.maxCheckpointsPerPod, totalSize: g.maxTotalSizePerPod, countSource: globalSource('maxCheckpointsPerPod'), totalSizeSource: globalSource('maxTotalSizePerPod') },
    { level: 'namespace', count: g.maxCheckpointsPerNamespace, totalSize: g.maxTotalSizePerNamespace, countSource: globalSource('maxCheckpointsPerNamespace'), totalSizeSource: globalSource('maxTotalSizePerNamespace') },
  ].filter((rule): rule is Rule => rule.count > 0 || rule.totalSize > 0);
  for (const entry of entries) {
    const { governor, identity } = entry;
    if (governor.level === 'global') {
      for (const rule of globalRules) addToGroup(`global${SEP}${scopeKey(rule.level, identity)}`, rule, scopeOf(rule.level, identity), entry);
    } else {
      const rule: Rule = {
        level: governor.level,
        count: governor.limits.maxCheckpoints,
        totalSize: governor.limits.maxTotalSize,
        countSource: governor.source,
        totalSizeSource: governor.source,
      };
      addToGroup(`specific${SEP}${scopeKey(governor.level, identity)}`, rule, governor.scope, entry);
    }
  }
  const ordered = [...groups.values()].sort((a, b) => LEVEL_ORDER[a.rule.level] - LEVEL_ORDER[b.rule.level]);
  for (const { rule, scope, members } of ordered) {
    const where = describeScope(scope);
    if (rule.count > 0) {
      const source = rule.countSource;
      const kept = members.filter((m) => !planned.has(m.record.fileName));
      let excess = kept.length - rule.count;
      if (excess > 0) {
        const text = `${where} has ${plural(kept.length, 'archive')}, limit ${rule.count} (${source})`;
        for (const entry of kept) {
          if (excess === 0) break;
          if (entry.record.pinned) continue;
          plan(entry, 'count', rule.count, scope, source, text);
          excess -= 1;
        }
        if (excess > 0) reportUnsatisfiable(scope, 'count', rule.count, source, `${where} keeps ${plural(rule.count + excess, 'archive')} because of pins, limit ${rule.count} (${source})`);
      }
    }
    if (rule.totalSize > 0) {
      const source = rule.totalSizeSource;
      const kept = members.filter((m) => !planned.has(m.record.fileName));
      let total = kept.reduce((sum, m) => sum + m.record.fingerprint.size, 0);
      if (total > rule.totalSize) {
        const text = `${where} holds ${formatBytes(total)} in ${plural(kept.length, 'archive')}, limit ${formatBytes(rule.totalSize)} (${source})`;
        for (const entry of kept) {
          if (total <= rule.totalSize) break;
          if (entry.record.pinned) continue;
          plan(entry, 'total_size', rule.totalSize, scope, source, text);
          total -= entry.record.fingerprint.size;
        }
        if (total > rule.totalSize) {
          reportUnsatisfiable(scope, 'total_size', rule.totalSize, source, `${where} keeps ${formatBytes(total)} because of pins, limit ${formatBytes(rule.totalSize)} (${source})`);
        }
      }
    }
  }

  if (policy.diskPressure && input.disk) planDiskPressure(input, policy.diskPressure, entries, planned, ownerOf, plan);

  return { deletions, unsatisfiable: [...unsatisfiable.values()], effectiveLimits: describeEffectiveLimits(entries, policy) };
}

const LEVEL_ORDER: Readonly<Record<Level, number>> = { container: 0, pod: 1, namespace: 2 };

/** A merged policy records per-field sources, where a missing field is a default; a hand-built one has only `source`. */
function sourceOfGlobalField(global: RetentionPolicy['global'], field: GlobalPolicyField): string {
  if (!global.fieldSources) return global.source;
  return global.fieldSources[field] ?? DEFAULT_SOURCE;
}

function resolveSpecific(
  container: (PolicyLimits & Sourced) | undefined,
  pod: (PolicyLimits & Sourced) | undefined,
  namespace: (PolicyLimits & Sourced) | undefined,
): { level: Level; policy: PolicyLimits & Sourced } | undefined {
  if (container) return { level: 'container', policy: container };
  if (pod) return { level: 'pod', policy: pod };
  if (namespace) return { level: 'namespace', policy: namespace };
  return undefined;
}

function scopeKey(level: Level, id: ArchiveIdentity): string {
  if (level === 'namespace') return `namespace${SEP}${id.namespace}`;
  if (level === 'pod') return `pod${SEP}${podKey(id)}`;
  return `container${SEP}${containerKey(id)}`;
}

function planDiskPressure(
  input: PlanInput,
  pressure: NonNullable<RetentionPolicy['diskPressure']>,
  entries: readonly Entry[],
  planned: Set<string>,
  ownerOf: (id: ArchiveIdentity) => OwnerState,
  plan: (entry: Entry, reason: DeletionReason, limitValue: number | undefined, scope: ScopeRef, policySource: string, detail: string) => void,
): void {
  const disk = input.disk;
  if (!disk) return;
  // As df: used counts root-reserved blocks as neither used nor available.
  const used = disk.sizeBytes - disk.freeBytes;
  const capacity = used + disk.availBytes;
  if (capacity <= 0) return;
  const usedPercent = (used / capacity) * 100;
  if (usedPercent <= pressure.highThresholdPercent) return;

  // Hard links share blocks: a (dev, ino) frees space once, and only when its last name goes.
  const freedInodes = new Set<string>();
  const inode = (entry: Entry): string => `${entry.record.fingerprint.dev}:${entry.record.fingerprint.ino}`;
  let freed = 0;
  for (const entry of entries) {
    if (planned.has(entry.record.fileName) && !freedInodes.has(inode(entry))) {
      freedInodes.add(inode(entry));
      freed += entry.record.fingerprint.size;
    }
  }
  const below = (): boolean => ((used - freed) / capacity) * 100 < pressure.lowThresholdPercent;
  if (below()) return;

  // The newest survivors of each container (pinned ones included: they are kept anyway) are protected.
  const protectedNames = new Set<string>();
  const survivorsByContainer = new Map<string, Entry[]>();
  for (const entry of entries) {
    if (planned.has(entry.record.fileName)) continue;
    const key = containerKey(entry.identity);
    const list = survivorsByContainer.get(key) ?? [];
    list.push(entry);
    survivorsByContainer.set(key, list);
  }
  for (const list of survivorsByContainer.values()) {
    for (const entry of list.slice(Math.max(0, list.length - pressure.keepNewestPerContainer))) protectedNames.add(entry.record.fileName);
  }

  const candidates = entries.filter((e) => !e.record.pinned && !planned.has(e.record.fileName) && !protectedNames.has(e.record.fileName));
  const orphans = candidates.filter((e) => ownerOf(e.identity).state === 'orphan');
  const others = candidates.filter((e) => ownerOf(e.identity).state !== 'orphan');
  const text = `filesystem is ${usedPercent.toFixed(1)}% used, above the ${pressure.highThresholdPercent}% high mark; oldest archives go until below ${pressure.lowThresholdPercent}% (${pressure.source})`;
  for (const entry of [...orphans, ...others]) {
    if (below()) break;
    plan(entry, 'disk_pressure', undefined, { level: 'node' }, pressure.source, text);
    if (!freedInodes.has(inode(entry))) {
      freedInodes.add(inode(entry));
      freed += entry.record.fingerprint.size;
    }
  }
}

/** The limits in force for every scope that holds archives, for checkpoint_retention_limit. */
function describeEffectiveLimits(entries: readonly Entry[], policy: RetentionPolicy): EffectiveLimit[] {
  const limits = new Map<string, EffectiveLimit>();
  const g = policy.global;
  const globalSource = (field: GlobalPolicyField): string => sourceOfGlobalField(g, field);
  const add = (scope: ScopeRef, limit: LimitName, value: number, policySource: string): void => {
    if (value <= 0) return;
    const labels = labelsOf(scope, limit);
    const key = [labels.namespace, labels.pod, labels.container, limit].join(SEP);
    if (!limits.has(key)) limits.set(key, { ...labels, value, policySource });
  };
  for (const { identity, governor } of entries) {
    if (governor.level === 'global') {
      const container = scopeOf('container', identity);
      add(container, 'count', g.maxCheckpointsPerContainer, globalSource('maxCheckpointsPerContainer'));
      add(container, 'size', g.maxCheckpointSize, globalSource('maxCheckpointSize'));
      add(container, 'total_size', g.maxTotalSizePerContainer, globalSource('maxTotalSizePerContainer'));
      add(container, 'age_seconds', g.maxCheckpointAgeSeconds, globalSource('maxCheckpointAgeSeconds'));
      add(scopeOf('pod', identity), 'count', g.maxCheckpointsPerPod, globalSource('maxCheckpointsPerPod'));
      add(scopeOf('pod', identity), 'total_size', g.maxTotalSizePerPod, globalSource('maxTotalSizePerPod'));
      add(scopeOf('namespace', identity), 'count', g.maxCheckpointsPerNamespace, globalSource('maxCheckpointsPerNamespace'));
      add(scopeOf('namespace', identity), 'total_size', g.maxTotalSizePerNamespace, globalSource('maxTotalSizePerNamespace'));
    } else {
      const { limits: l, scope, source } = governor;
      add(scope, 'count', l.maxCheckpoints, source);
      add(scope, 'size', l.maxCheckpointSize, source);
      add(scope, 'total_size', l.maxTotalSize, source);
      add(scope, 'age_seconds', l.maxCheckpointAgeSeconds, source);
    }
  }
  return [...limits.values()];
}
