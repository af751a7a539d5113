import { describe, expect, it } from '@jest/globals';
import { planRetention } from '../../../src/retention/plan.js';
import { POD_ARCHIVE_OWNERS, podScopePolicy } from '../../../src/retention/pod-scope-policy.js';
import type { RetentionPolicy } from '../../../src/retention/types.js';
import { MINUTE, MiB, T0, policyOf, series, snapshotOf } from './builders.js';

/** Pod-level archives: records whose container is empty, planned with the pod scope of the policy. */
const podArchives = (count: number, pod = 'web-0', fromMinute = 0) => series(count, { namespace: 'shop', pod, container: '', fromMinute });

function plan(policy: RetentionPolicy, archives: ReturnType<typeof podArchives>, nowMs = T0 + 60 * MINUTE) {
  return planRetention({ snapshot: snapshotOf(archives), policy: podScopePolicy(policy), owners: POD_ARCHIVE_OWNERS, disk: undefined, nowMs });
}

describe('podScopePolicy', () => {
  it.each([
    ['global maxCheckpointsPerPod', { globalPolicy: { maxCheckpointsPerPod: 2 } }, 2],
    ['a pod policy', { podPolicies: [{ namespace: 'shop', pod: 'web-0', maxCheckpoints: 1 }] }, 3],
    ['global maxTotalSizePerPod', { globalPolicy: { maxTotalSizePerPod: 3 * MiB } }, 1],
  ])('%s bounds a pod, oldest first', (_label, spec, deleted) => {
    const archives = podArchives(4);
    const result = plan(policyOf(spec), archives);
    expect(result.deletions.map((d) => d.fileName)).toEqual(archives.slice(0, deleted).map((a) => a.fileName));
  });

  it.each([
    ['per container', { globalPolicy: { maxCheckpointsPerContainer: 1, maxCheckpointsPerPod: 0 } }],
    ['per namespace', { globalPolicy: { maxCheckpointsPerNamespace: 1, maxCheckpointsPerPod: 0 } }],
    ['a namespace policy\'s count', { namespacePolicies: [{ namespace: 'shop', maxCheckpoints: 1 }] }],
    ['a namespace policy\'s total', { namespacePolicies: [{ namespace: 'shop', maxTotalSize: 1 }] }],
    ['a container policy', { containerPolicies: [{ namespace: 'shop', pod: 'web-0', container: 'nginx', maxCheckpoints: 1 }] }],
  ])('%s does not apply to pod archives', (_label, spec) => {
    expect(plan(policyOf(spec), [...podArchives(3), ...podArchives(3, 'web-1')]).deletions).toEqual([]);
  });

  it('per-archive age applies from the namespace policy that governs the pod, and a pin is kept', () => {
    const archives = podArchives(3);
    const pinned = { ...archives[0]!, pinned: true };
    const result = plan(policyOf({ namespacePolicies: [{ namespace: 'shop', maxCheckpointAge: '30m' }] }), [pinned, archives[1]!, archives[2]!], T0 + 31.5 * MINUTE);
    expect(result.deletions.map((d) => [d.fileName, d.reason])).toEqual([[archives[1]!.fileName, 'age']]);
  });

  // Pod orphans come from each archive's state (planPodArchives' `orphans`, pod-archive-orphans.ts), and
  // disk pressure takes pod archives in the node-wide pass (plan-disk-pressure.ts), never in this plan.
  it('plans no orphan deletion without per-archive orphan states, and no disk-pressure deletion', () => {
    const policy = policyOf({ globalPolicy: { retainOrphan: false }, orphanGracePeriod: '1m', diskPressure: { highThresholdPercent: 50, lowThresholdPercent: 10 } });
    const result = planRetention({
      snapshot: snapshotOf(podArchives(3)),
      policy: podScopePolicy(policy),
      owners: POD_ARCHIVE_OWNERS,
      disk: { sizeBytes: 100 * MiB, freeBytes: MiB, availBytes: MiB },
      nowMs: T0 + 60 * MINUTE,
    });
    expect(result.deletions).toEqual([]);
  });
});
