import { describe, expect, it } from '@jest/globals';
import { buildSnapshot } from '../../../src/inventory/build-snapshot.js';
import { createInventoryModel } from '../../../src/inventory/inventory-model.js';
import type { ArchiveRecord } from '../../../src/inventory/types.js';
import { globalLimitsOf } from '../../../src/retention/effective-limits.js';
import { mergePolicies } from '../../../src/retention/merge-policies.js';
import { planRetention } from '../../../src/retention/plan.js';
import type { DeletionReason, DiskStats, OwnerLookup, RetentionPlan, RetentionPolicy } from '../../../src/retention/types.js';
import { allAlive, archive, MiB, MINUTE, ownersByPod, policyOf, series, snapshotOf, SOURCE, T0 } from './builders.js';

const NOW = T0 + 24 * 60 * MINUTE;

function plan(archives: readonly ArchiveRecord[], policy: RetentionPolicy, extra: { owners?: OwnerLookup; disk?: DiskStats; nowMs?: number } = {}): RetentionPlan {
  return planRetention({ snapshot: snapshotOf(archives), policy, owners: extra.owners ?? allAlive, disk: extra.disk, nowMs: extra.nowMs ?? NOW });
}

const outcome = (p: RetentionPlan): string[] => p.deletions.map((d) => `${d.fileName} ${d.reason}`).sort();
const expectOf = (pairs: readonly (readonly [ArchiveRecord, DeletionReason])[]): string[] => pairs.map(([a, r]) => `${a.fileName} ${r}`).sort();

interface LimitCase {
  readonly archives: ArchiveRecord[];
  readonly spec: Record<string, unknown>;
  readonly expected: (readonly [ArchiveRecord, DeletionReason])[];
}

/** Each case builds its archives, a CR spec, and exactly which archives go and why. */
const limitCases: [string, () => LimitCase][] = [
  [
    'no policy: 10 per container, nothing per pod or namespace',
    () => {
      const a = series(12, { container: 'a' });
      const b = series(10, { container: 'b', fromMinute: 100 });
      return { archives: [...a, ...b], spec: {}, expected: [[a[0]!, 'count'], [a[1]!, 'count']] };
    },
  ],
  [
    'globalPolicy.maxCheckpointsPerContainer',
    () => {
      const a = series(5, {});
      return { archives: a, spec: { globalPolicy: { maxCheckpointsPerContainer: 3 } }, expected: [[a[0]!, 'count'], [a[1]!, 'count']] };
    },
  ],
  [
    'globalPolicy.maxCheckpointsPerPod counts every container of the pod, oldest first',
    () => {
      const a = [0, 2, 4].map((minute) => archive({ container: 'a', minute }));
      const b = [1, 3, 5].map((minute) => archive({ container: 'b', minute }));
      const other = series(3, { pod: 'other-0' });
      return { archives: [...a, ...b, ...other], spec: { globalPolicy: { maxCheckpointsPerPod: 4 } }, expected: [[a[0]!, 'count'], [b[0]!, 'count']] };
    },
  ],
  [
    'globalPolicy.maxCheckpointsPerNamespace counts every pod of the namespace',
    () => {
      const a = series(2, { pod: 'a-0', fromMinute: 0 });
      const b = series(2, { pod: 'b-0', fromMinute: 10 });
      const elsewhere = series(3, { namespace: 'other' });
      return { archives: [...a, ...b, ...elsewhere], spec: { globalPolicy: { maxCheckpointsPerNamespace: 3 } }, expected: [[a[0]!, 'count']] };
    },
  ],
  [
    'globalPolicy.maxCheckpointSize removes only the oversize archive',
    () => {
      const small = archive({ minute: 0, size: 4 * MiB });
      const big = archive({ minute: 1, size: 4 * MiB + 1 });
      return { archives: [small, big], spec: { globalPolicy: { maxCheckpointSize: '4Mi' } }, expected: [[big, 'size']] };
    },
  ],
  [
    'globalPolicy.maxTotalSizePerContainer removes the oldest until under',
    () => {
      const a = series(4, { size: 3 * MiB });
      return { archives: a, spec: { globalPolicy: { maxTotalSizePerContainer: '7Mi' } }, expected: [[a[0]!, 'total_size'], [a[1]!, 'total_size']] };
    },
  ],
  [
    'globalPolicy.maxTotalSizePerPod spans containers',
    () => {
      const a = series(2, { container: 'a', size: 2 * MiB, fromMinute: 0 });
      const b = series(2, { container: 'b', size: 2 * MiB, fromMinute: 5 });
      return { archives: [...a, ...b], spec: { globalPolicy: { maxTotalSizePerPod: '5Mi' } }, expected: [[a[0]!, 'total_size'], [a[1]!, 'total_size']] };
    },
  ],
  [
    'globalPolicy.maxTotalSizePerNamespace spans pods',
    () => {
      const a = series(2, { pod: 'a-0', size: 2 * MiB, fromMinute: 0 });
      const b = series(2, { pod: 'b-0', size: 2 * MiB, fromMinute: 5 });
      return { archives: [...a, ...b], spec: { globalPolicy: { maxTotalSizePerNamespace: 6_291_456 } }, expected: [[a[0]!, 'total_size']] };
    },
  ],
  [
    'globalPolicy.maxCheckpointAge uses the timestamp in the name',
    () => {
      const old = archive({ minute: 0 });
      const young = archive({ minute: 23 * 60 + 31, mtimeMs: T0 });
      return { archives: [old, young], spec: { globalPolicy: { maxCheckpointAge: '30m' } }, expected: [[old, 'age']] };
    },
  ],
  [
    'containerPolicies: every field on its exact container',
    () => {
      const c = [archive({ minute: 0, size: 9 * MiB }), ...series(4, { fromMinute: 1, size: 2 * MiB }), archive({ minute: 23 * 60 + 59 })];
      const sibling = series(6, { container: 'sidecar' });
      return {
        archives: [...c, ...sibling],
        spec: { containerPolicies: [{ namespace: 'shop', pod: 'cart-0', container: 'api', maxCheckpointSize: '8Mi', maxCheckpointAge: '23h', maxCheckpoints: 3, maxTotalSize: '3Mi' }] },
        // 9Mi goes for size, four at minute 1..4 are >23h old, the young one stays (count 1 ≤ 3, 1Mi ≤ 3Mi).
        expected: [[c[0]!, 'size'], [c[1]!, 'age'], [c[2]!, 'age'], [c[3]!, 'age'], [c[4]!, 'age']],
      };
    },
  ],
  [
    'podPolicies: count and total size over the whole pod',
    () => {
      const a = series(3, { container: 'a', fromMinute: 0, size: MiB });
      const b = series(3, { container: 'b', fromMinute: 3, size: MiB });
      return {
        archives: [...a, ...b],
        spec: { podPolicies: [{ namespace: 'shop', pod: 'cart-0', maxCheckpoints: 5, maxTotalSize: '3Mi' }] },
        expected: [[a[0]!, 'count'], [a[1]!, 'total_size'], [a[2]!, 'total_size']],
      };
    },
  ],
  [
    'namespacePolicies: count over the namespace, size per archive',
    () => {
      const a = series(2, { pod: 'a-0', fromMinute: 0 });
      const b = series(2, { pod: 'b-0', fromMinute: 2 });
      const big = archive({ pod: 'c-0', minute: 9, size: 3 * MiB });
      return {
        archives: [...a, ...b, big],
        spec: { namespacePolicies: [{ namespace: 'shop', maxCheckpoints: 3, maxCheckpointSize: '2Mi' }] },
        expected: [[big, 'size'], [a[0]!, 'count']],
      };
    },
  ],
  [
    'a namespace policy for default never touches default-x',
    () => {
      const inDefault = series(3, { namespace: 'default' });
      const inDefaultX = series(3, { namespace: 'default-x' });
      return { archives: [...inDefault, ...inDefaultX], spec: { namespacePolicies: [{ namespace: 'default', maxCheckpoints: 1 }] }, expected: [[inDefault[0]!, 'count'], [inDefault[1]!, 'count']] };
    },
  ],
  [
    'a pod policy for web-0 never touches web-01 or the same pod name in another namespace',
    () => {
      const target = series(2, { pod: 'web-0' });
      const prefix = series(2, { pod: 'web-01' });
      const otherNs = series(2, { pod: 'web-0', namespace: 'shop2' });
      return { archives: [...target, ...prefix, ...otherNs], spec: { podPolicies: [{ namespace: 'shop', pod: 'web-0', maxCheckpoints: 1 }] }, expected: [[target[0]!, 'count']] };
    },
  ],
  [
    'a specific policy replaces the global one: its unset fields mean no limit',
    () => {
      const a = series(5, {});
      return { archives: a, spec: { globalPolicy: { maxCheckpointsPerContainer: 1 }, namespacePolicies: [{ namespace: 'shop', maxTotalSize: '1Gi' }] }, expected: [] };
    },
  ],
  [
    'the container policy wins over the pod policy, and the pod policy counts only the rest',
    () => {
      const api = series(4, { container: 'api', fromMinute: 0 });
      const side = series(3, { container: 'side', fromMinute: 10 });
      return {
        archives: [...api, ...side],
        spec: {
          podPolicies: [{ namespace: 'shop', pod: 'cart-0', maxCheckpoints: 2 }],
          containerPolicies: [{ namespace: 'shop', pod: 'cart-0', container: 'api', maxCheckpoints: 4 }],
        },
        expected: [[side[0]!, 'count']],
      };
    },
  ],
  [
    'the pod policy wins over the namespace policy, which counts only the other pods',
    () => {
      const governed = series(3, { pod: 'db-0', fromMinute: 0 });
      const rest = series(3, { pod: 'web-0', fromMinute: 10 });
      return {
        archives: [...governed, ...rest],
        spec: { namespacePolicies: [{ namespace: 'shop', maxCheckpoints: 2 }], podPolicies: [{ namespace: 'shop', pod: 'db-0', maxCheckpoints: 3 }] },
        expected: [[rest[0]!, 'count']],
      };
    },
  ],
  [
    'global per-namespace limits count only archives no specific policy covers',
    () => {
      const covered = series(5, { pod: 'db-0', fromMinute: 0 });
      const free = series(3, { pod: 'web-0', fromMinute: 10 });
      return {
        archives: [...covered, ...free],
        spec: { globalPolicy: { maxCheckpointsPerNamespace: 2 }, podPolicies: [{ namespace: 'shop', pod: 'db-0', maxCheckpoints: 5 }] },
        expected: [[free[0]!, 'count']],
      };
    },
  ],
  [
    '0 means no limit for every field',
    () => ({
      archives: series(30, { size: 5 * MiB }),
      spec: {
        globalPolicy: {
          maxCheckpointsPerContainer: 0,
          maxCheckpointsPerPod: 0,
          maxCheckpointsPerNamespace: 0,
          maxCheckpointSize: 0,
          maxTotalSizePerContainer: '0',
          maxTotalSizePerPod: 0,
          maxTotalSizePerNamespace: 0,
          maxCheckpointAge: '0s',
        },
      },
      expected: [],
    }),
  ],
  [
    'no over-deletion: archives removed for size count toward the count limit',
    () => {
      const a = [archive({ minute: 0 }), archive({ minute: 1, size: 9 * MiB }), archive({ minute: 2 }), archive({ minute: 3, size: 9 * MiB }), archive({ minute: 4 })];
      return { archives: a, spec: { globalPolicy: { maxCheckpointsPerContainer: 3, maxCheckpointSize: '8Mi' } }, expected: [[a[1]!, 'size'], [a[3]!, 'size']] };
    },
  ],
  [
    'no over-deletion: container deletions count toward the pod limit',
    () => {
      const a = series(4, { container: 'a', fromMinute: 0 });
      const b = series(2, { container: 'b', fromMinute: 10 });
      return {
        archives: [...a, ...b],
        spec: { globalPolicy: { maxCheckpointsPerContainer: 2, maxCheckpointsPerPod: 4 } },
        expected: [[a[0]!, 'count'], [a[1]!, 'count']],
      };
    },
  ],
  [
    'ties in the name timestamp are broken by mtime, then file name',
    () => {
      const later = archive({ minute: 5, container: 'a', mtimeMs: T0 + 2 });
      const earlier = archive({ minute: 5, container: 'b', mtimeMs: T0 + 1 });
      const third = archive({ minute: 5, container: 'c', mtimeMs: T0 + 1 });
      return { archives: [later, third, earlier], spec: { globalPolicy: { maxCheckpointsPerPod: 1 } }, expected: [[earlier, 'count'], [third, 'count']] };
    },
  ],
  [
    'pinned archives count toward the limit but are never deleted',
    () => {
      const a = [archive({ minute: 0, pinned: true }), archive({ minute: 1 }), archive({ minute: 2 }), archive({ minute: 3 })];
      return { archives: a, spec: { globalPolicy: { maxCheckpointsPerContainer: 2 } }, expected: [[a[1]!, 'count'], [a[2]!, 'count']] };
    },
  ],
  [
    'unidentified archives are neither counted nor deleted',
    () => {
      const unknown = series(5, { identified: false, size: 100 * MiB });
      const known = series(3, { fromMinute: 10 });
      return { archives: [...unknown, ...known], spec: { globalPolicy: { maxCheckpointsPerContainer: 3, maxCheckpointSize: '1Mi', maxCheckpointAge: '1m' } }, expected: known.map((k) => [k, 'age'] as const) };
    },
  ],
];

describe('planRetention limits', () => {
  it.each(limitCases)('%s', (_name, build) => {
    const { archives, spec, expected } = build();
    const result = plan(archives, policyOf(spec));
    expect(outcome(result)).toEqual(expectOf(expected));
    expect(result.unsatisfiable).toEqual([]);
  });

  it('gives the limit, scope, source and a sentence for a count deletion', () => {
    const archives = series(13, { namespace: 'shop-prod', pod: 'cart-0', container: 'cart-api' });
    const result = plan(archives, policyOf({ containerPolicies: [{ namespace: 'shop-prod', pod: 'cart-0', container: 'cart-api', maxCheckpoints: 10 }] }));
    expect(result.deletions).toHaveLength(3);
    expect(result.deletions[0]).toMatchObject({
      reason: 'count',
      limitValue: 10,
      scope: { level: 'container', namespace: 'shop-prod', pod: 'cart-0', container: 'cart-api' },
      policySource: `${SOURCE} containerPolicies[0]`,
      detail: `container shop-prod/cart-0/cart-api has 13 archives, limit 10 (${SOURCE} containerPolicies[0])`,
      fingerprint: archives[0]!.fingerprint,
    });
  });

  it.each([
    ['size', { maxCheckpointSize: '1Mi' }, /is 2 MiB, over the 1 MiB per-archive limit of container shop\/cart-0\/api/],
    ['age', { maxCheckpointAge: '1h' }, /is 1d old, over the 1h age limit of container shop\/cart-0\/api/],
    ['total_size', { maxTotalSizePerContainer: '1Mi' }, /container shop\/cart-0\/api holds 2 MiB in 1 archive, limit 1 MiB/],
  ])('explains a %s deletion in one sentence naming the global policy', (reason, globalPolicy, pattern) => {
    const result = plan([archive({ minute: 0, size: 2 * MiB })], policyOf({ globalPolicy }));
    expect(result.deletions).toHaveLength(1);
    expect(result.deletions[0]!.reason).toBe(reason);
    expect(result.deletions[0]!.detail).toMatch(pattern);
    expect(result.deletions[0]!.policySource).toBe(`${SOURCE} globalPolicy`);
  });

  it('uses the built-in default when no document is given, naming it as the source', () => {
    const result = plan(series(11, {}), mergePolicies([]));
    expect(result.deletions.map((d) => [d.reason, d.limitValue, d.policySource])).toEqual([['count', 10, 'default']]);
  });

  it('plans the same deletions whatever order the snapshot lists archives in', () => {
    const archives = [...series(7, { container: 'a' }), ...series(6, { container: 'b', fromMinute: 3 }), ...series(4, { pod: 'x-0', fromMinute: 1 })];
    const policy = policyOf({ globalPolicy: { maxCheckpointsPerContainer: 5, maxCheckpointsPerPod: 8, maxTotalSizePerNamespace: '12Mi' } });
    const forward = plan(archives, policy);
    const backward = plan([...archives].reverse(), policy);
    expect(backward).toEqual(forward);
    expect(forward.deletions.length).toBeGreaterThan(0);
  });

  it.each([
    ['carries the directory identity of the snapshot, which the executor checks', { dev: 64769, ino: 1234 }],
    ['carries no directory identity when the snapshot has none', undefined],
  ])('%s', (_name, directoryIdentity) => {
    const snapshot = { ...snapshotOf(series(11, {})), ...(directoryIdentity ? { directoryIdentity } : {}) };
    const result = planRetention({ snapshot, policy: mergePolicies([]), owners: allAlive, disk: undefined, nowMs: NOW });
    expect(result.directoryIdentity).toEqual(directoryIdentity);
    expect(result.deletions).toHaveLength(1);
  });
});

describe('planRetention pins', () => {
  it.each([
    ['count', { maxCheckpointsPerContainer: 2 }, 'count', 2],
    ['total_size', { maxTotalSizePerContainer: '2Mi' }, 'total_size', 2 * MiB],
  ] as const)('reports an unsatisfiable %s limit when pins alone exceed it, deleting every unpinned archive', (_n, globalPolicy, limit, value) => {
    const pinned = series(3, { pinned: true });
    const loose = series(2, { fromMinute: 10 });
    const result = plan([...pinned, ...loose], policyOf({ globalPolicy }));
    expect(outcome(result)).toEqual(expectOf(loose.map((l) => [l, limit] as const)));
    expect(result.unsatisfiable).toEqual([
      expect.objectContaining({ namespace: 'shop', pod: 'cart-0', container: 'api', limit, value, policySource: `${SOURCE} globalPolicy` }),
    ]);
  });

  it.each([
    ['size', { maxCheckpointSize: '1Mi' }, 'size'],
    ['age', { maxCheckpointAge: '1h' }, 'age'],
  ] as const)('reports a pinned archive over the %s limit as unsatisfiable and keeps it', (_n, globalPolicy, limit) => {
    const result = plan([archive({ minute: 0, size: 2 * MiB, pinned: true })], policyOf({ globalPolicy }));
    expect(result.deletions).toEqual([]);
    expect(result.unsatisfiable).toMatchObject([{ limit, container: 'api' }]);
    expect(result.unsatisfiable[0]!.detail).toMatch(/^pinned /);
  });

  it.each([
    ['a finished pin (.keep)', '.keep'],
    ['a pin being written (.keep.tmp)', '.keep.tmp'],
  ])('keeps an archive with %s under a count limit and under disk pressure, taking the next oldest instead', (_case, suffix) => {
    // The pin goes through the inventory model, as the directory's entries do.
    const archives = series(4, { size: 10 * MiB });
    const model = createInventoryModel();
    for (const record of archives) model.set(record.fileName, { kind: 'settled', record });
    model.set(`${archives[0]!.fileName}${suffix}`, { kind: 'pin', target: archives[0]!.fileName, size: 0 });
    const snapshot = buildSnapshot(model, { directory: '/checkpoints', directoryPresent: true, directoryIdentity: { dev: 1, ino: 2 }, initialScanComplete: true, lastScanTimestampMs: T0, lastScanDurationSeconds: 0 });
    // 86% used: one 10 MiB archive brings it below the low mark of 80%.
    const disk: DiskStats = { sizeBytes: 100 * MiB, freeBytes: 14 * MiB, availBytes: 14 * MiB };
    const byCount = planRetention({ snapshot, policy: policyOf({ globalPolicy: { maxCheckpointsPerContainer: 2 } }), owners: allAlive, disk: undefined, nowMs: NOW });
    expect(byCount.deletions.map((d) => d.fileName)).toEqual([archives[1]!.fileName, archives[2]!.fileName]);
    const byPressure = planRetention({
      snapshot,
      policy: policyOf({ globalPolicy: { maxCheckpointsPerContainer: 0 }, diskPressure: { highThresholdPercent: 85, lowThresholdPercent: 80, keepNewestPerContainer: 1 } }),
      owners: allAlive,
      disk,
      nowMs: NOW,
    });
    expect(byPressure.deletions.map((d) => d.fileName)).toEqual([archives[1]!.fileName]);
  });

  it('labels an unsatisfiable pod-policy limit with an empty container', () => {
    const result = plan(series(3, { pinned: true }), policyOf({ podPolicies: [{ namespace: 'shop', pod: 'cart-0', maxCheckpoints: 1 }] }));
    expect(result.unsatisfiable).toMatchObject([{ namespace: 'shop', pod: 'cart-0', container: '', limit: 'count', value: 1 }]);
  });
});

describe('planRetention orphans', () => {
  const gone = (minutesAgo: number) => ({ state: 'orphan' as const, sinceMs: NOW - minutesAgo * MINUTE });
  it.each([
    ['within the default 10m grace', {}, gone(9), false],
    ['exactly at the default grace', {}, gone(10), true],
    ['after a custom grace', { orphanGracePeriod: '1h' }, gone(61), true],
    ['before a custom grace', { orphanGracePeriod: '1h' }, gone(59), false],
    ['a zero grace deletes at once', { orphanGracePeriod: '0s' }, gone(0), true],
    ['unknown owners are never orphans', { orphanGracePeriod: '0s' }, { state: 'unknown' as const, reason: 'api down' }, false],
    ['alive owners are kept', { orphanGracePeriod: '0s' }, { state: 'alive' as const }, false],
  ])('retainOrphan false: %s', (_name, extra, state, deleted) => {
    const archives = series(2, {});
    const result = plan(archives, policyOf({ ...extra, globalPolicy: { retainOrphan: false } }), { owners: ownersByPod({ 'shop/cart-0': state }) });
    expect(outcome(result)).toEqual(deleted ? expectOf(archives.map((a) => [a, 'orphan'] as const)) : []);
  });

  it.each([
    ['global default retains orphans', {}],
    ['a specific policy without retainOrphan retains them', { globalPolicy: { retainOrphan: false }, podPolicies: [{ namespace: 'shop', pod: 'cart-0' }] }],
  ])('%s', (_name, spec) => {
    const result = plan(series(2, {}), policyOf(spec), { owners: ownersByPod({ 'shop/cart-0': gone(60) }) });
    expect(result.deletions).toEqual([]);
  });

  it('deletes orphans under a specific policy with retainOrphan false, except pinned ones', () => {
    const archives = [archive({ minute: 0, pinned: true }), archive({ minute: 1 })];
    const result = plan(archives, policyOf({ containerPolicies: [{ namespace: 'shop', pod: 'cart-0', container: 'api', retainOrphan: false }] }), {
      owners: ownersByPod({ 'shop/cart-0': gone(60) }),
    });
    expect(outcome(result)).toEqual(expectOf([[archives[1]!, 'orphan']]));
    expect(result.deletions[0]!.detail).toMatch(/pod shop\/cart-0 has been gone for 1h \(grace 10m\) and retainOrphan is false/);
  });
});

describe('planRetention disk pressure', () => {
  const pressure = { diskPressure: { highThresholdPercent: 85, lowThresholdPercent: 80, keepNewestPerContainer: 1 } };
  /** A 100 MiB filesystem with `usedMiB` used and no root reserve unless given. */
  const disk = (usedMiB: number, reservedMiB = 0): DiskStats => ({
    sizeBytes: 100 * MiB,
    freeBytes: (100 - usedMiB) * MiB,
    availBytes: (100 - usedMiB - reservedMiB) * MiB,
  });

  it.each([
    ['at the high mark nothing happens', 85, 0, 0],
    ['just above the high mark frees to below the low mark', 86, 0, 7],
    ['well above frees more', 95, 0, 16],
    // used 80 of (80 + 10) = 88.9%: to get below 80% of 90 MiB, used must drop under 72 MiB.
    ['root-reserved blocks count as neither used nor available, as df', 80, 10, 9],
  ])('%s', (_name, usedMiB, reservedMiB, expectedDeletions) => {
    const archives = [...series(20, { container: 'a', size: MiB }), ...series(20, { container: 'b', size: MiB, fromMinute: 100 })];
    const result = plan(archives, policyOf({ ...pressure, globalPolicy: { maxCheckpointsPerContainer: 0 } }), { disk: disk(usedMiB, reservedMiB) });
    expect(result.deletions).toHaveLength(expectedDeletions);
    expect(result.deletions.every((d) => d.reason === 'disk_pressure' && d.scope.level === 'node')).toBe(true);
    // Oldest node-wide first: container a is older than b.
    expect(result.deletions.map((d) => d.fileName)).toEqual(archives.slice(0, expectedDeletions).map((a) => a.fileName));
  });

  it.each([
    // Orphaned past the grace period: taken first, although newer than the live pod's archives.
    ['orphans past their grace period first', true],
    // Orphaned only just now: no different from a live owner, oldest first.
    ['oldest first when the orphans are still within their grace period', false],
  ])('takes %s, keeps the newest per container, skips pinned and unidentified archives', (_case, pastGrace) => {
    const live = series(3, { pod: 'live-0', fromMinute: 0, size: 10 * MiB });
    const orphan = series(3, { pod: 'gone-0', fromMinute: 100, size: 10 * MiB });
    const pinned = archive({ pod: 'live-0', container: 'x', minute: -10, size: 10 * MiB, pinned: true });
    const unknown = archive({ pod: 'live-0', minute: -20, size: 10 * MiB, identified: false });
    const policy = policyOf({ diskPressure: { lowThresholdPercent: 50 } });
    const sinceMs = pastGrace ? NOW - policy.orphanGracePeriodSeconds * 1000 : NOW;
    const result = plan([...live, ...orphan, pinned, unknown], policy, {
      disk: disk(99),
      owners: ownersByPod({ 'shop/gone-0': { state: 'orphan', sinceMs } }),
    });
    // Everything deletable goes and usage stays high: the newest of each container survives.
    const expected = pastGrace ? [orphan[0]!, orphan[1]!, live[0]!, live[1]!] : [live[0]!, live[1]!, orphan[0]!, orphan[1]!];
    expect(result.deletions.map((d) => d.fileName)).toEqual(expected.map((a) => a.fileName));
    expect(result.deletions.every((d) => d.reason === 'disk_pressure')).toBe(true);
    expect(result.deletions[0]!.detail).toBe(`filesystem is 99.0% used, above the 85% high mark; oldest archives go until below 50% (${SOURCE} diskPressure)`);
  });

  it('counts space already freed by limit deletions and plans nothing more when that suffices', () => {
    const archives = series(12, { size: 5 * MiB });
    const result = plan(archives, policyOf({ ...pressure, globalPolicy: { maxCheckpointsPerContainer: 10 } }), { disk: disk(88) });
    expect(result.deletions.map((d) => d.reason)).toEqual(['count', 'count']);
  });

  it('frees hard-linked copies only once', () => {
    // Linked only to each other: both links are archives planned on, so deleting both frees 10 MiB.
    const a = archive({ minute: 0, size: 10 * MiB, ino: 7, nlink: 2, container: 'a' });
    const b = archive({ minute: 1, size: 10 * MiB, ino: 7, nlink: 2, container: 'b' });
    const c = archive({ minute: 2, size: 10 * MiB, container: 'c' });
    const keep = [a, b, c].map((x) => archive({ minute: 50, container: x.identity!.container, size: 1 }));
    // 90% used: 10 MiB frees to 80%, not below; a and b share blocks so c must go too.
    const result = plan([a, b, c, ...keep], policyOf({ ...pressure, globalPolicy: { maxCheckpointsPerContainer: 0 } }), { disk: disk(90) });
    expect(result.deletions.map((d) => d.fileName)).toEqual([a.fileName, b.fileName, c.fileName]);
  });

  describe('hard links', () => {
    const noCount = { ...pressure, globalPolicy: { maxCheckpointsPerContainer: 0 } };

    it('skips archives hard-linked elsewhere and frees the space from the others, saying what it skipped', () => {
      // The two oldest are also linked into a backup: deleting them would free nothing.
      const backedUp = series(2, { container: 'a', size: 10 * MiB, nlink: 2 });
      const plain = series(3, { container: 'a', size: 10 * MiB, fromMinute: 10 });
      // 90% used: one plain archive brings it to 80%, not below; two (20 MiB) to 70%.
      const result = plan([...backedUp, ...plain], policyOf(noCount), { disk: disk(90) });
      expect(result.deletions.map((d) => d.fileName)).toEqual([plain[0]!.fileName, plain[1]!.fileName]);
      expect(result.deletions[0]!.detail).toContain('not taken: 2 hard-linked archives (20 MiB) whose deletion frees nothing');
    });

    it('never digs below keepNewestPerContainer because linked archives free nothing, and plans nothing that frees nothing', () => {
      const backedUp = series(4, { container: 'a', size: 10 * MiB, nlink: 3 });
      const newest = archive({ container: 'a', minute: 10, size: 10 * MiB });
      const other = series(2, { container: 'b', size: 10 * MiB, fromMinute: 20 });
      // 99% used: even deleting everything allowed cannot reach 80%. Allowed: b's older archive only.
      const result = plan([...backedUp, newest, ...other], policyOf(noCount), { disk: disk(99) });
      expect(result.deletions.map((d) => d.fileName)).toEqual([other[0]!.fileName]);
      // The newest of a stays (keepNewestPerContainer 1) although the four older ones could not be taken.
      expect(result.deletions.map((d) => d.fileName)).not.toContain(newest.fileName);
    });

    it('takes no archive whose link count is unknown', () => {
      const unknown = series(3, { container: 'a', size: 10 * MiB }).map((record) => ({ ...record, fingerprint: { ...record.fingerprint, nlink: undefined } }));
      expect(plan(unknown, policyOf(noCount), { disk: disk(99) }).deletions).toEqual([]);
    });

    it('takes archives linked only to each other together, and neither when one of them must stay', () => {
      const a = archive({ container: 'a', minute: 0, size: 10 * MiB, ino: 9, nlink: 2 });
      const pinnedTwin = archive({ container: 'b', minute: 1, size: 10 * MiB, ino: 9, nlink: 2, pinned: true });
      const c = archive({ container: 'c', minute: 2, size: 10 * MiB });
      const keep = ['a', 'b', 'c'].map((container) => archive({ container, minute: 50, size: 1 }));
      // a alone frees nothing while its pinned twin stays: c goes instead.
      const result = plan([a, pinnedTwin, c, ...keep], policyOf(noCount), { disk: disk(88) });
      expect(result.deletions.map((d) => d.fileName)).toEqual([c.fileName]);
      expect(result.deletions[0]!.detail).toContain('not taken: 1 hard-linked archive (10 MiB)');
      // A twin one link short (a third link elsewhere): neither goes.
      const a3 = { ...a, fingerprint: { ...a.fingerprint, nlink: 3 } };
      const b3 = { ...pinnedTwin, pinned: false, fingerprint: { ...pinnedTwin.fingerprint, nlink: 3 } };
      expect(plan([a3, b3, c, ...keep], policyOf(noCount), { disk: disk(88) }).deletions.map((d) => d.fileName)).toEqual([c.fileName]);
    });

    it('counts no space freed by a limit deletion of an archive linked elsewhere', () => {
      // 88% used. The count limit takes the oldest, which is backed up: the disk stays at 88%, so pressure
      // takes two (10 MiB, to 78%), not the one that would do if the count deletion freed its 5 MiB.
      const archives = [archive({ minute: 0, size: 5 * MiB, nlink: 2 }), ...series(11, { size: 5 * MiB, fromMinute: 1 })];
      const result = plan(archives, policyOf({ ...pressure, globalPolicy: { maxCheckpointsPerContainer: 11 } }), { disk: disk(88) });
      expect(result.deletions.map((d) => d.reason)).toEqual(['count', 'disk_pressure', 'disk_pressure']);
    });
  });

  it('does nothing without disk stats or without a diskPressure policy', () => {
    const archives = series(5, { size: 10 * MiB });
    expect(plan(archives, policyOf(pressure)).deletions).toEqual([]);
    expect(plan(archives, policyOf({}), { disk: disk(99) }).deletions).toEqual([]);
  });
});

describe('planRetention effective limits', () => {
  const policy = policyOf({
    globalPolicy: { maxCheckpointsPerPod: 7, maxCheckpointAge: '7d' },
    podPolicies: [{ namespace: 'shop', pod: 'db-0', maxTotalSize: '1Gi' }],
    namespacePolicies: [{ namespace: 'ops', maxCheckpoints: 3, maxCheckpointSize: '10Mi' }],
    containerPolicies: [{ namespace: 'shop', pod: 'web-0', container: 'nginx', maxCheckpoints: 2, maxCheckpointAge: '1d' }],
  });

  it('lists the limits each scope holding archives gets from its own policy, with its source; global limits are not repeated per scope', () => {
    const archives = [
      archive({ minute: 0, container: 'api' }),
      archive({ minute: 0, pod: 'db-0' }),
      archive({ minute: 0, namespace: 'ops' }),
      archive({ minute: 0, pod: 'web-0', container: 'nginx' }),
    ];
    const result = plan(archives, policy);
    const rows = result.effectiveLimits.map((l) => `${l.namespace}/${l.pod}/${l.container} ${l.limit}=${l.value} <- ${l.policySource.replace(SOURCE, 'CR')}`).sort();
    // shop/cart-0/api is governed by the global policy only: no row of its own.
    expect(rows).toEqual(
      [
        'shop/db-0/ total_size=1073741824 <- CR podPolicies[0]',
        'ops// count=3 <- CR namespacePolicies[0]',
        'ops// size=10485760 <- CR namespacePolicies[0]',
        'shop/web-0/nginx count=2 <- CR containerPolicies[0]',
        'shop/web-0/nginx age=86400 <- CR containerPolicies[0]',
      ].sort(),
    );
  });

  it('lists only scopes that hold archives', () => {
    expect(plan([archive({ minute: 0, container: 'api' })], policy).effectiveLimits).toEqual([]);
  });

  it('gives the global limits once, per level, with the field each came from', () => {
    const rows = globalLimitsOf(policy).map((g) => `${g.level} ${g.limit}=${g.value} <- ${g.policySource.replace(SOURCE, 'CR')}`).sort();
    expect(rows).toEqual(['archive age=604800 <- CR globalPolicy', 'container count=10 <- default', 'pod count=7 <- CR globalPolicy'].sort());
    expect(globalLimitsOf(mergePolicies([])).map((g) => [g.level, g.limit, g.value])).toEqual([['container', 'count', 10]]);
  });
});
