import { describe, expect, it } from '@jest/globals';
import { podPlanInput } from '../../../src/daemon/pod-retention.js';
import { resolvePodArchiveIdentities, type PodCheckpointReference } from '../../../src/retention/pod-archive-identity.js';
import { planPodArchives } from '../../../src/retention/pod-scope-policy.js';
import { MINUTE, T0, policyOf, series, snapshotOf } from './builders.js';

/** Identity of pod-level archives with PodCheckpoint objects known: the object confirms the name, or the archive is kept and the disagreement reported. */

const archives = series(4, { namespace: 'shop', pod: 'web-0', container: '', fromMinute: 0 });
const names = archives.map((a) => a.fileName);
const object = (fileName: string | undefined, namespace = 'shop', sourcePodName: string | undefined = 'web-0', name = `pc-${namespace}`): PodCheckpointReference => ({
  namespace,
  name,
  sourcePodName,
  archiveFileName: fileName,
});

describe('resolvePodArchiveIdentities', () => {
  it('an object naming the same pod confirms the name; no object, or one without spec.sourcePodName, leaves the name', () => {
    const resolved = resolvePodArchiveIdentities(archives, [object(names[0]), { namespace: 'shop', name: 'no-source', sourcePodName: undefined, archiveFileName: names[1] }, object(undefined)]);
    expect([...resolved.confirmed]).toEqual([names[0]]);
    expect(resolved.conflicts).toEqual([]);
    expect([...resolved.referenced].sort()).toEqual([names[0], names[1]].sort());
  });

  it.each([
    ['another pod', 'shop', 'web-1', 'shop/web-1'],
    ['another namespace', 'cart', 'web-0', 'cart/web-0'],
  ])('reports an object that names %s, once per archive, with both identities', (_label, namespace, pod, fromObject) => {
    const resolved = resolvePodArchiveIdentities(archives, [object(names[2], namespace, pod, 'restore-me')]);
    expect(resolved.confirmed.size).toBe(0);
    expect(resolved.conflicts).toEqual([
      {
        fileName: names[2],
        fromName: 'shop/web-0',
        fromObject,
        object: `${namespace}/restore-me`,
        message: `pod archive ${names[2]} is named for pod shop/web-0 but PodCheckpoint ${namespace}/restore-me points at it for pod ${fromObject}: kept and left out of both pods' limits until they agree`,
      },
    ]);
  });

  it('two objects pointing at one archive for different pods are a disagreement even when one agrees', () => {
    const resolved = resolvePodArchiveIdentities(archives, [object(names[0]), object(names[0], 'shop', 'web-9', 'other')]);
    expect(resolved.conflicts.map((c) => [c.fileName, c.fromObject])).toEqual([[names[0], 'shop/web-9']]);
    expect(resolved.confirmed.size).toBe(0);
  });
});

describe('podPlanInput: a disagreement keeps the archive', () => {
  const objects = (list: PodCheckpointReference[]) => ({ kind: 'known' as const, objects: list.map((o) => ({ ...o, phase: undefined })) });

  it('leaves the disagreeing archive out of the plan, so even deleteReferencedPodCheckpoints cannot take it, and it is not counted', () => {
    const input = podPlanInput(snapshotOf(archives), objects([object(names[0], 'shop', 'web-1'), object(names[1])]));
    expect(input?.snapshot.archives.map((a) => a.fileName)).toEqual(names.slice(1));
    const policy = policyOf({ globalPolicy: { maxCheckpointsPerPod: 1, deleteReferencedPodCheckpoints: true } });
    const plan = planPodArchives({ snapshot: input!.snapshot, referenced: input!.referenced, policy, nowMs: T0 + 60 * MINUTE });
    // Three archives are planned (names[1..3]); the limit of one takes the two oldest of them.
    expect(plan.deletions.map((d) => d.fileName)).toEqual([names[1], names[2]]);
  });

  it('plans nothing while the objects are not known, and everything by name where the group is not served', () => {
    expect(podPlanInput(snapshotOf(archives), { kind: 'unknown' })).toBeUndefined();
    const absent = podPlanInput(snapshotOf(archives), { kind: 'absent' });
    expect(absent?.snapshot.archives).toHaveLength(4);
    expect(absent?.conflicts).toEqual([]);
  });
});
