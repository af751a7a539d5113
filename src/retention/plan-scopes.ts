import type { ArchiveIdentity } from '../archive/types.js';
import { DEFAULT_SOURCE } from './merge-policies.js';
import type { ContainerState, Governor, Group, Level, Rule } from './plan-state.js';
import type { FieldSourced, GlobalPolicyField, LimitLabels, LimitName, PolicyLimits, RetentionPolicy, ScopeRef, Sourced } from './types.js';

/** Scope resolution shared by the planner's passes: who governs a container and which groups it counts in. */

const SEP = '\u0000';
export const containerKey = (id: { namespace: string; pod: string; container: string }): string => `${id.namespace}${SEP}${id.pod}${SEP}${id.container}`;
export const podKey = (id: { namespace: string; pod: string }): string => `${id.namespace}${SEP}${id.pod}`;
export const labelKey = (labels: LimitLabels): string => `${labels.namespace}${SEP}${labels.pod}${SEP}${labels.container}${SEP}${labels.limit}`;

export function scopeKey(level: Level, id: ArchiveIdentity): string {
  if (level === 'namespace') return `namespace${SEP}${id.namespace}`;
  if (level === 'pod') return `pod${SEP}${podKey(id)}`;
  return `container${SEP}${containerKey(id)}`;
}

export function scopeOf(level: Level, id: ArchiveIdentity): ScopeRef {
  if (level === 'namespace') return { level, namespace: id.namespace };
  if (level === 'pod') return { level, namespace: id.namespace, pod: id.pod };
  return { level, namespace: id.namespace, pod: id.pod, container: id.container };
}

export function describeScope(scope: ScopeRef): string {
  if (scope.level === 'node') return 'node';
  const path = [scope.namespace, scope.pod, scope.container].filter((part) => part !== undefined).join('/');
  return `${scope.level} ${path}`;
}

export function labelsOf(scope: ScopeRef, limit: LimitName): LimitLabels {
  return { namespace: scope.namespace ?? '', pod: scope.pod ?? '', container: scope.container ?? '', limit };
}

/** A merged policy records per-field sources, where a missing field is a default; a hand-built one has only `source`. */
export function sourceOfGlobalField(global: RetentionPolicy['global'], field: GlobalPolicyField): string {
  if (!global.fieldSources) return global.source;
  return global.fieldSources[field] ?? DEFAULT_SOURCE;
}

/** The global policy's count and total-size rules per level, without the levels it leaves unlimited. */
export function globalRules(policy: RetentionPolicy): Rule[] {
  const g = policy.global;
  const source = (field: GlobalPolicyField): string => sourceOfGlobalField(g, field);
  const unrestorableFirst = g.deleteUnrestorableFirst === true;
  const rules: Rule[] = [
    { level: 'container', count: g.maxCheckpointsPerContainer, totalSize: g.maxTotalSizePerContainer, countSource: source('maxCheckpointsPerContainer'), totalSizeSource: source('maxTotalSizePerContainer'), unrestorableFirst },
    { level: 'pod', count: g.maxCheckpointsPerPod, totalSize: g.maxTotalSizePerPod, countSource: source('maxCheckpointsPerPod'), totalSizeSource: source('maxTotalSizePerPod'), unrestorableFirst },
    { level: 'namespace', count: g.maxCheckpointsPerNamespace, totalSize: g.maxTotalSizePerNamespace, countSource: source('maxCheckpointsPerNamespace'), totalSizeSource: source('maxTotalSizePerNamespace'), unrestorableFirst },
  ];
  return rules.filter((rule) => rule.count > 0 || rule.totalSize > 0);
}

/**
 * Resolves containers to their governing policy and groups. Scopes match exactly: a policy for
 * namespace `default` is looked up by that exact name, so `default-x` never matches it.
 */
export function createScopeResolver(policy: RetentionPolicy): (id: ArchiveIdentity) => ContainerState {
  const containerPolicies = new Map(policy.containerPolicies.map((p) => [containerKey(p), p]));
  const podPolicies = new Map(policy.podPolicies.map((p) => [podKey(p), p]));
  const namespacePolicies = new Map(policy.namespacePolicies.map((p) => [p.namespace, p]));
  const g = policy.global;
  const rules = globalRules(policy);
  const groups = new Map<string, Group>();
  const containers = new Map<string, ContainerState>();

  const groupFor = (key: string, rule: Rule, scope: ScopeRef): Group => {
    let group = groups.get(key);
    if (!group) {
      group = { rule, scope, members: [] };
      groups.set(key, group);
    }
    return group;
  };

  const specificOf = (id: ArchiveIdentity, key: string): { level: Level; policy: PolicyLimits & Sourced & FieldSourced } | undefined => {
    const container = containerPolicies.get(key);
    if (container) return { level: 'container', policy: container };
    const pod = podPolicies.get(podKey(id));
    if (pod) return { level: 'pod', policy: pod };
    const namespace = namespacePolicies.get(id.namespace);
    if (namespace) return { level: 'namespace', policy: namespace };
    return undefined;
  };

  return (id) => {
    const key = containerKey(id);
    const known = containers.get(key);
    if (known) return known;
    const specific = specificOf(id, key);
    let governor: Governor;
    let memberOf: Group[];
    if (specific) {
      const { level, policy: p } = specific;
      // A policy merged from several entries for its scope names the entry behind each field.
      const sourceOf = (field: keyof PolicyLimits): string => p.fieldSources?.[field] ?? p.source;
      const scope = scopeOf(level, id);
      governor = {
        level,
        retainOrphan: p.retainOrphan ?? true,
        maxCheckpoints: p.maxCheckpoints ?? 0,
        maxCheckpointSize: p.maxCheckpointSize ?? 0,
        maxTotalSize: p.maxTotalSize ?? 0,
        maxCheckpointAgeSeconds: p.maxCheckpointAgeSeconds ?? 0,
        source: p.source,
        sizeSource: sourceOf('maxCheckpointSize'),
        ageSource: sourceOf('maxCheckpointAgeSeconds'),
        orphanSource: sourceOf('retainOrphan'),
        scope,
        where: describeScope(scope),
      };
      const rule: Rule = {
        level,
        count: governor.maxCheckpoints,
        totalSize: governor.maxTotalSize,
        countSource: sourceOf('maxCheckpoints'),
        totalSizeSource: sourceOf('maxTotalSize'),
        unrestorableFirst: p.deleteUnrestorableFirst === true,
      };
      memberOf = rule.count > 0 || rule.totalSize > 0 ? [groupFor(`specific${SEP}${scopeKey(level, id)}`, rule, scope)] : [];
    } else {
      const scope = scopeOf('container', id);
      governor = {
        level: 'global',
        retainOrphan: g.retainOrphan,
        maxCheckpoints: g.maxCheckpointsPerContainer,
        maxCheckpointSize: g.maxCheckpointSize,
        maxTotalSize: g.maxTotalSizePerContainer,
        maxCheckpointAgeSeconds: g.maxCheckpointAgeSeconds,
        source: g.source,
        sizeSource: sourceOfGlobalField(g, 'maxCheckpointSize'),
        ageSource: sourceOfGlobalField(g, 'maxCheckpointAgeSeconds'),
        orphanSource: sourceOfGlobalField(g, 'retainOrphan'),
        scope,
        where: describeScope(scope),
      };
      memberOf = rules.map((rule) => groupFor(`global${SEP}${scopeKey(rule.level, id)}`, rule, scopeOf(rule.level, id)));
    }
    const state: ContainerState = { identity: id, governor, groups: memberOf, entries: [], owner: undefined };
    containers.set(key, state);
    return state;
  };
}

/** Every group met so far, narrowest level first, so broader limits only count what narrower ones kept. */
export function orderGroups(containers: Iterable<ContainerState>): Group[] {
  const seen = new Set<Group>();
  for (const container of containers) for (const group of container.groups) seen.add(group);
  const order: Readonly<Record<Level, number>> = { container: 0, pod: 1, namespace: 2 };
  return [...seen].sort((a, b) => order[a.rule.level] - order[b.rule.level]);
}
