import { labelKey, labelsOf, scopeOf, sourceOfGlobalField, type ContainerState } from './plan-scopes.js';
import type { EffectiveLimit, LimitName, RetentionPolicy, ScopeRef } from './types.js';

/**
 * The limits in force for every container, pod and namespace that holds identified archives, for
 * checkpoint_retention_limit. Unlimited (0) values are left out. Pod and namespace rows have empty
 * container (and pod) labels.
 */
export function describeEffectiveLimits(containers: Iterable<ContainerState>, policy: RetentionPolicy): EffectiveLimit[] {
  const limits = new Map<string, EffectiveLimit>();
  const g = policy.global;
  const add = (scope: ScopeRef, limit: LimitName, value: number, policySource: string): void => {
    if (value <= 0) return;
    const labels = labelsOf(scope, limit);
    const key = labelKey(labels);
    if (!limits.has(key)) limits.set(key, { ...labels, value, policySource });
  };
  for (const { identity, governor } of containers) {
    if (governor.level === 'global') {
      const container = scopeOf('container', identity);
      const pod = scopeOf('pod', identity);
      const namespace = scopeOf('namespace', identity);
      add(container, 'count', g.maxCheckpointsPerContainer, sourceOfGlobalField(g, 'maxCheckpointsPerContainer'));
      add(container, 'size', g.maxCheckpointSize, sourceOfGlobalField(g, 'maxCheckpointSize'));
      add(container, 'total_size', g.maxTotalSizePerContainer, sourceOfGlobalField(g, 'maxTotalSizePerContainer'));
      add(container, 'age_seconds', g.maxCheckpointAgeSeconds, sourceOfGlobalField(g, 'maxCheckpointAgeSeconds'));
      add(pod, 'count', g.maxCheckpointsPerPod, sourceOfGlobalField(g, 'maxCheckpointsPerPod'));
      add(pod, 'total_size', g.maxTotalSizePerPod, sourceOfGlobalField(g, 'maxTotalSizePerPod'));
      add(namespace, 'count', g.maxCheckpointsPerNamespace, sourceOfGlobalField(g, 'maxCheckpointsPerNamespace'));
      add(namespace, 'total_size', g.maxTotalSizePerNamespace, sourceOfGlobalField(g, 'maxTotalSizePerNamespace'));
    } else {
      add(governor.scope, 'count', governor.maxCheckpoints, governor.source);
      add(governor.scope, 'size', governor.maxCheckpointSize, governor.source);
      add(governor.scope, 'total_size', governor.maxTotalSize, governor.source);
      add(governor.scope, 'age_seconds', governor.maxCheckpointAgeSeconds, governor.source);
    }
  }
  return [...limits.values()];
}
