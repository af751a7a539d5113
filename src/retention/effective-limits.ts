import { labelKey, labelsOf, scopeOf, sourceOfGlobalField } from './plan-scopes.js';
import type { ContainerState } from './plan-state.js';
import type { EffectiveLimit, LimitName, RetentionPolicy, ScopeRef } from './types.js';

/**
 * The limits that a scope's own policy (namespace, pod or container policy) sets, for every such
 * scope that holds identified archives, for checkpoint_retention_limit. The global policy's limits are
 * not repeated per container (10,000 containers would mean 10,000 identical series): they are
 * exported once, from the policy (`globalLimitsOf`). Unlimited (0) values are left out. Pod and
 * namespace rows have empty container (and pod) labels.
 */
export function describeEffectiveLimits(containers: Iterable<ContainerState>, policy: RetentionPolicy): EffectiveLimit[] {
  const limits = new Map<string, EffectiveLimit>();
  const add = (scope: ScopeRef, limit: LimitName, value: number, policySource: string): void => {
    if (value <= 0) return;
    const labels = labelsOf(scope, limit);
    const key = labelKey(labels);
    if (!limits.has(key)) limits.set(key, { ...labels, value, policySource });
  };
  for (const { governor } of containers) {
    if (governor.level !== 'global') {
      add(governor.scope, 'count', governor.maxCheckpoints, governor.source);
      add(governor.scope, 'size', governor.maxCheckpointSize, governor.source);
      add(governor.scope, 'total_size', governor.maxTotalSize, governor.source);
      add(governor.scope, 'age', governor.maxCheckpointAgeSeconds, governor.source);
    }
  }
  return [...limits.values()];
}

/** The level a global limit applies at: each container, pod or namespace, or each single archive. */
export type GlobalLimitLevel = 'archive' | 'container' | 'pod' | 'namespace';

export interface GlobalLimit {
  readonly level: GlobalLimitLevel;
  readonly limit: LimitName;
  readonly value: number;
  readonly policySource: string;
}

/** The global policy's limits that are set (non-zero), once each: checkpoint_retention_global_limit. */
export function globalLimitsOf(policy: RetentionPolicy): GlobalLimit[] {
  const g = policy.global;
  const rows: GlobalLimit[] = [];
  const add = (level: GlobalLimitLevel, limit: LimitName, field: Parameters<typeof sourceOfGlobalField>[1]): void => {
    const value = g[field];
    if (typeof value === 'number' && value > 0) rows.push({ level, limit, value, policySource: sourceOfGlobalField(g, field) });
  };
  add('archive', 'size', 'maxCheckpointSize');
  add('archive', 'age', 'maxCheckpointAgeSeconds');
  add('container', 'count', 'maxCheckpointsPerContainer');
  add('container', 'total_size', 'maxTotalSizePerContainer');
  add('pod', 'count', 'maxCheckpointsPerPod');
  add('pod', 'total_size', 'maxTotalSizePerPod');
  add('namespace', 'count', 'maxCheckpointsPerNamespace');
  add('namespace', 'total_size', 'maxTotalSizePerNamespace');
  return rows;
}
