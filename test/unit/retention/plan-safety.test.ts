import fc from 'fast-check';
import { describe, expect, it } from '@jest/globals';
import type { ArchiveRecord } from '../../../src/inventory/types.js';
import { planRetention } from '../../../src/retention/plan.js';
import type { DiskStats, OwnerLookup, RetentionPlan, RetentionPolicy } from '../../../src/retention/types.js';
import { allAlive, archive, MiB, MINUTE, ownersByPod, policyOf, series, snapshotOf, T0 } from './builders.js';

/** Issue 10's planner rules: future-dated archives, pins that fill a limit, and the orphan grace period under disk pressure. */
const NOW = T0 + 24 * 60 * MINUTE;

function plan(archives: readonly ArchiveRecord[], policy: RetentionPolicy, extra: { owners?: OwnerLookup; disk?: DiskStats; futureToleranceMs?: number } = {}): RetentionPlan {
  return planRetention({
    snapshot: snapshotOf(archives),
    policy,
    owners: extra.owners ?? allAlive,
    disk: extra.disk,
    nowMs: NOW,
    ...(extra.futureToleranceMs !== undefined ? { futureToleranceMs: extra.futureToleranceMs } : {}),
  });
}

const minutesFromNow = (minutes: number): number => (NOW - T0) / MINUTE + minutes;

describe('future-dated archives', () => {
  it('are neither counted nor deleted, so a real new checkpoint is never pushed out by them', () => {
    const future = [archive({ minute: minutesFromNow(365 * 24 * 60) }), archive({ minute: minutesFromNow(366 * 24 * 60) })];
    const real = archive({ minute: minutesFromNow(-1) });
    const result = plan([...future, real], policyOf({ globalPolicy: { maxCheckpointsPerContainer: 2 } }));
    expect(result.deletions).toEqual([]);
    expect([...(result.futureDated ?? [])].sort()).toEqual(future.map((a) => a.fileName).sort());
  });

  it('within the tolerance an archive counts as usual, and the tolerance is configurable', () => {
    const soon = archive({ minute: minutesFromNow(5) });
    const older = series(2, { fromMinute: 0 });
    expect(plan([...older, soon], policyOf({ globalPolicy: { maxCheckpointsPerContainer: 2 } })).deletions.map((d) => d.fileName)).toEqual([older[0]!.fileName]);
    const strict = plan([...older, soon], policyOf({ globalPolicy: { maxCheckpointsPerContainer: 2 } }), { futureToleranceMs: MINUTE });
    expect(strict.deletions).toEqual([]);
    expect(strict.futureDated).toEqual([soon.fileName]);
  });

  it('are never taken by an age limit', () => {
    const future = archive({ minute: minutesFromNow(60 * 24 * 30) });
    expect(plan([future], policyOf({ globalPolicy: { maxCheckpointAge: '1h' } })).deletions).toEqual([]);
  });
});

describe('pins that fill a limit', () => {
  it('a count limit filled by pins is unsatisfiable, and each deletion it forces says so', () => {
    const pinned = series(2, { fromMinute: 0, pinned: true });
    const fresh = archive({ minute: 10 });
    const result = plan([...pinned, fresh], policyOf({ globalPolicy: { maxCheckpointsPerContainer: 2 } }));
    expect(result.deletions.map((d) => d.fileName)).toEqual([fresh.fileName]);
    expect(result.deletions[0]!.detail).toContain('forced by pins: 2 pinned archives fill the limit of 2');
    expect(result.unsatisfiable.map((u) => u.limit)).toEqual(['count']);
  });

  it('pins that leave room report nothing', () => {
    const pinned = archive({ minute: 0, pinned: true });
    const others = series(3, { fromMinute: 1 });
    const result = plan([pinned, ...others], policyOf({ globalPolicy: { maxCheckpointsPerContainer: 2 } }));
    expect(result.unsatisfiable).toEqual([]);
    expect(result.deletions.every((d) => !d.detail.includes('forced by pins'))).toBe(true);
  });

  it('a total-size limit filled by pinned bytes is unsatisfiable too', () => {
    const pinned = archive({ minute: 0, pinned: true, size: 10 * MiB });
    const fresh = archive({ minute: 10, size: MiB });
    const result = plan([pinned, fresh], policyOf({ globalPolicy: { maxTotalSizePerContainer: '10Mi' } }));
    expect(result.deletions.map((d) => d.fileName)).toEqual([fresh.fileName]);
    expect(result.deletions[0]!.detail).toContain('forced by pins');
    expect(result.unsatisfiable.map((u) => u.limit)).toEqual(['total_size']);
  });
});

describe('disk pressure and the orphan grace period', () => {
  const disk: DiskStats = { sizeBytes: 100 * MiB, freeBytes: 1 * MiB, availBytes: 1 * MiB };
  const pressure = { diskPressure: { highThresholdPercent: 85, lowThresholdPercent: 80, keepNewestPerContainer: 1 }, globalPolicy: { maxCheckpointsPerContainer: 0 } };

  it('takes orphans first only once their grace period is over', () => {
    const live = series(3, { pod: 'live-0', fromMinute: 0, size: MiB });
    const orphan = series(3, { pod: 'gone-0', fromMinute: 100, size: MiB });
    const recentlyGone = ownersByPod({ 'shop/gone-0': { state: 'orphan', sinceMs: NOW - MINUTE } });
    // One minute orphaned, grace 10 minutes: not an orphan for disk pressure, so the oldest go first.
    const early = plan([...live, ...orphan], policyOf(pressure), { disk, owners: recentlyGone });
    expect(early.deletions[0]!.fileName).toBe(live[0]!.fileName);
    const longGone = ownersByPod({ 'shop/gone-0': { state: 'orphan', sinceMs: NOW - 60 * MINUTE } });
    const late = plan([...live, ...orphan], policyOf(pressure), { disk, owners: longGone });
    expect(late.deletions[0]!.fileName).toBe(orphan[0]!.fileName);
  });
});

describe('planner properties (issue 10)', () => {
  const runs = process.env['CI'] === 'true' ? 10_000 : 500;
  const archiveArb = fc.record({
    pod: fc.constantFrom('web-0', 'web-1'),
    container: fc.constantFrom('a', 'b'),
    minute: fc.integer({ min: 0, max: 2 * 24 * 60 }),
    future: fc.boolean(),
    pinned: fc.boolean(),
    size: fc.integer({ min: 1, max: 8 }),
  });
  const policyArb = fc.record({
    maxCheckpointsPerContainer: fc.integer({ min: 0, max: 4 }),
    maxCheckpointsPerPod: fc.integer({ min: 0, max: 6 }),
    maxTotalSizePerContainer: fc.integer({ min: 0, max: 20 }),
    ageHours: fc.integer({ min: 0, max: 48 }),
  });
  type ArchiveSpecArb = typeof archiveArb extends fc.Arbitrary<infer T> ? T : never;
  type PolicyArb = typeof policyArb extends fc.Arbitrary<infer T> ? T : never;
  const build = (specs: readonly ArchiveSpecArb[]): ArchiveRecord[] => {
    const seen = new Set<string>();
    const out: ArchiveRecord[] = [];
    for (const spec of specs) {
      const minute = spec.future ? minutesFromNow(60 + spec.minute) : spec.minute;
      const key = `${spec.pod}/${spec.container}/${minute}`;
      if (seen.has(key)) continue;
      seen.add(key);
      out.push(archive({ pod: spec.pod, container: spec.container, minute, pinned: spec.pinned, size: spec.size * MiB }));
    }
    return out;
  };
  const policyFrom = (p: PolicyArb): RetentionPolicy =>
    policyOf({
      globalPolicy: {
        maxCheckpointsPerContainer: p.maxCheckpointsPerContainer,
        maxCheckpointsPerPod: p.maxCheckpointsPerPod,
        ...(p.maxTotalSizePerContainer > 0 ? { maxTotalSizePerContainer: `${p.maxTotalSizePerContainer}Mi` } : {}),
        ...(p.ageHours > 0 ? { maxCheckpointAge: `${p.ageHours}h` } : {}),
      },
    });

  it('never deletes a pinned archive, nor a future-dated one', () => {
    fc.assert(
      fc.property(fc.array(archiveArb, { maxLength: 25 }), policyArb, (specs, p) => {
        const archives = build(specs);
        const result = plan(archives, policyFrom(p));
        const byName = new Map(archives.map((a) => [a.fileName, a]));
        for (const deletion of result.deletions) {
          const record = byName.get(deletion.fileName)!;
          expect(record.pinned).toBe(false);
          expect(record.name.timestampMs).toBeLessThanOrEqual(NOW + 10 * MINUTE);
        }
      }),
      { numRuns: runs },
    );
  });

  it('never lets a future-dated archive push out a real one: the plan is the plan without them', () => {
    fc.assert(
      fc.property(fc.array(archiveArb, { maxLength: 25 }), policyArb, (specs, p) => {
        const archives = build(specs);
        const real = archives.filter((a) => a.name.timestampMs <= NOW + 10 * MINUTE);
        const deleted = (list: readonly ArchiveRecord[]): string[] => plan(list, policyFrom(p)).deletions.map((d) => `${d.fileName} ${d.reason}`).sort();
        expect(deleted(archives)).toEqual(deleted(real));
      }),
      { numRuns: runs },
    );
  });
});

describe('deleteUnrestorableFirst', () => {
  const unrestorable = (record: ArchiveRecord): ArchiveRecord => Object.freeze({ ...record, restorable: false, missingEntries: Object.freeze(['checkpoint/inventory.img']) });

  it('off (the default): the oldest go, restorable or not', () => {
    const archives = series(4, { fromMinute: 0 });
    const newestBroken = unrestorable(archives[3]!);
    const result = plan([...archives.slice(0, 3), newestBroken], policyOf({ globalPolicy: { maxCheckpointsPerContainer: 3 } }));
    expect(result.deletions.map((d) => d.fileName)).toEqual([archives[0]!.fileName]);
  });

  it('on: under a count limit, unrestorable archives go before older restorable ones, and the detail says why', () => {
    const archives = series(5, { fromMinute: 0 });
    const broken = [unrestorable(archives[3]!), unrestorable(archives[4]!)];
    const result = plan([...archives.slice(0, 3), ...broken], policyOf({ globalPolicy: { maxCheckpointsPerContainer: 3, deleteUnrestorableFirst: true } }));
    expect(result.deletions.map((d) => d.fileName)).toEqual(broken.map((a) => a.fileName));
    expect(result.deletions[0]!.detail).toContain('unrestorable first (missing checkpoint/inventory.img)');
  });

  it('on, in a container policy: only that scope is affected, and pinned unrestorable archives still stay', () => {
    const archives = series(4, { fromMinute: 0 });
    const pinnedBroken = Object.freeze({ ...unrestorable(archives[3]!), pinned: true });
    const spec = { containerPolicies: [{ namespace: 'shop', pod: 'cart-0', container: 'api', maxCheckpoints: 3, deleteUnrestorableFirst: true }] };
    const result = plan([...archives.slice(0, 3), pinnedBroken], policyOf(spec));
    expect(result.deletions.map((d) => d.fileName)).toEqual([archives[0]!.fileName]);
  });
});
