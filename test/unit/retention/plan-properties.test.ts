import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { DEFAULT_FUTURE_TOLERANCE_MS } from '../../../src/defaults.js';
import type { ArchiveRecord } from '../../../src/inventory/types.js';
import { planNodeDiskPressure } from '../../../src/retention/plan-disk-pressure.js';
import { planRetention } from '../../../src/retention/plan.js';
import type { DiskStats, OwnerLookup, OwnerState } from '../../../src/retention/types.js';
import { numRuns } from '../../support/properties.js';
import { archive, MiB, MINUTE, policyOf, snapshotOf, T0 } from './builders.js';
import { violationsOf } from './plan-oracle.js';

// After nearly every generated archive (minute 3100 at most): the last few lie beyond the 10-minute tolerance.
const NOW = T0 + 51 * 60 * MINUTE;

const archiveArb = fc.record({
  namespace: fc.constantFrom('default', 'default-x', 'shop'),
  pod: fc.constantFrom('web-0', 'web-01', 'db-0'),
  container: fc.constantFrom('api', 'side'),
  minute: fc.integer({ min: 0, max: 3100 }),
  size: fc.integer({ min: 1, max: 8 * MiB }),
  pinned: fc.integer({ min: 0, max: 7 }).map((n) => n === 0),
  identified: fc.integer({ min: 0, max: 9 }).map((n) => n !== 0),
  // Known unrestorable, known restorable, or unknown.
  restorable: fc.constantFrom<boolean | undefined>(false, true, undefined, undefined),
});

/** Distinct file names: the directory cannot hold two files of one name. */
const archivesArb = fc
  .uniqueArray(archiveArb, { maxLength: 60, size: 'max', selector: (a) => `${a.namespace}/${a.pod}/${a.container}/${a.minute}` })
  .map((specs) =>
    specs.map(({ restorable, ...spec }): ArchiveRecord => ({ ...archive(spec), restorable, missingEntries: restorable === false ? ['checkpoint/inventory.img'] : restorable === true ? [] : undefined })),
  );

/** Mostly unset, so the count and total-size limits see archives that the per-archive size limit left. */
const perArchiveSizeArb = fc.oneof({ arbitrary: fc.constant(0), weight: 3 }, { arbitrary: fc.integer({ min: 1, max: 8 * MiB }), weight: 1 });

const limitsArb = fc.record(
  {
    retainOrphan: fc.boolean(),
    maxCheckpoints: fc.integer({ min: 0, max: 3 }),
    maxCheckpointSize: perArchiveSizeArb,
    maxTotalSize: fc.integer({ min: 0, max: 30 * MiB }),
    maxCheckpointAge: fc.constantFrom('0s', '0s', '0s', '12h', '30h', '2d'),
    deleteUnrestorableFirst: fc.boolean(),
  },
  { requiredKeys: [] },
);

const specArb = fc.record(
  {
    globalPolicy: fc.record(
      {
        retainOrphan: fc.boolean(),
        maxCheckpointsPerNamespace: fc.integer({ min: 0, max: 8 }),
        maxCheckpointsPerPod: fc.integer({ min: 0, max: 5 }),
        maxCheckpointsPerContainer: fc.integer({ min: 0, max: 3 }),
        maxCheckpointSize: perArchiveSizeArb,
        maxTotalSizePerNamespace: fc.integer({ min: 0, max: 80 * MiB }),
        maxTotalSizePerPod: fc.integer({ min: 0, max: 40 * MiB }),
        maxTotalSizePerContainer: fc.integer({ min: 0, max: 20 * MiB }),
        maxCheckpointAge: fc.constantFrom('0s', '0s', '0s', '36h'),
        deleteUnrestorableFirst: fc.boolean(),
      },
      { requiredKeys: [] },
    ),
    namespacePolicies: fc.uniqueArray(fc.record({ namespace: fc.constantFrom('default', 'shop') }).chain((s) => limitsArb.map((l) => ({ ...s, ...l }))), {
      maxLength: 2,
      selector: (p) => p.namespace,
    }),
    podPolicies: fc.uniqueArray(fc.record({ namespace: fc.constantFrom('default', 'shop'), pod: fc.constantFrom('web-0', 'db-0') }).chain((s) => limitsArb.map((l) => ({ ...s, ...l }))), {
      maxLength: 2,
      selector: (p) => `${p.namespace}/${p.pod}`,
    }),
    containerPolicies: fc.uniqueArray(
      fc.record({ namespace: fc.constantFrom('default', 'shop'), pod: fc.constantFrom('web-0', 'db-0'), container: fc.constantFrom('api', 'side') }).chain((s) => limitsArb.map((l) => ({ ...s, ...l }))),
      { maxLength: 2, selector: (p) => `${p.namespace}/${p.pod}/${p.container}` },
    ),
    diskPressure: fc.constant({ highThresholdPercent: 70, lowThresholdPercent: 60, keepNewestPerContainer: 1 }),
    orphanGracePeriod: fc.constantFrom('0s', '10m'),
  },
  { requiredKeys: [] },
);

const ownerArb: fc.Arbitrary<OwnerState> = fc.oneof(
  fc.constant({ state: 'alive' as const }),
  fc.constant({ state: 'unknown' as const, reason: 'no informer' }),
  fc.integer({ min: 0, max: 60 }).map((minutes) => ({ state: 'orphan' as const, sinceMs: NOW - minutes * MINUTE })),
);

/** Each pod's owner on its own: alive, unknown, or gone for up to an hour. */
const ownersArb: fc.Arbitrary<OwnerLookup> = fc.array(ownerArb, { minLength: 9, maxLength: 9 }).map((states) => {
  const namespaces = ['default', 'default-x', 'shop'];
  const pods = ['web-0', 'web-01', 'db-0'];
  return (id) => states[namespaces.indexOf(id.namespace) * 3 + pods.indexOf(id.pod)]!;
});

const diskArb: fc.Arbitrary<DiskStats | undefined> = fc.option(
  fc.integer({ min: 0, max: 100 }).map((usedPercent) => ({ sizeBytes: 400 * MiB, freeBytes: ((100 - usedPercent) * 400 * MiB) / 100, availBytes: ((100 - usedPercent) * 400 * MiB) / 100 })),
  { nil: undefined },
);

describe('planRetention invariants', () => {
  it('never plans a pinned, unidentified, unknown or duplicate file, and does not depend on input order', () => {
    fc.assert(
      fc.property(archivesArb, specArb, ownerArb, diskArb, fc.nat(), (archives, spec, owner, disk, seed) => {
        const policy = policyOf(spec);
        const input = { policy, owners: () => owner, disk, nowMs: NOW };
        const result = planRetention({ ...input, snapshot: snapshotOf(archives) });

        const byName = new Map(archives.map((a) => [a.fileName, a]));
        const names = result.deletions.map((d) => d.fileName);
        expect(new Set(names).size).toBe(names.length);
        for (const deletion of result.deletions) {
          const record = byName.get(deletion.fileName);
          expect(record).toBeDefined();
          expect(record!.pinned).toBe(false);
          expect(record!.identity).toBeDefined();
          expect(deletion.fingerprint).toEqual(record!.fingerprint);
          expect(deletion.detail.length).toBeGreaterThan(0);
          if (deletion.reason === 'orphan') expect(owner.state).toBe('orphan');
        }

        const shuffled = [...archives].sort((a, b) => ((hash(a.fileName) ^ seed) >>> 0) - ((hash(b.fileName) ^ seed) >>> 0));
        expect(planRetention({ ...input, snapshot: snapshotOf(shuffled) })).toEqual(result);
      }),
      { numRuns: numRuns(300) },
    );
  });

  it('disk pressure takes only archives whose deletion frees their bytes, and never one of the newest of a container', () => {
    // Some archives are also linked elsewhere (a backup): every inode here is one file name, so any link beyond 1 is outside.
    const linkedArb = fc.array(fc.constantFrom(1, 1, 1, 2, 3), { minLength: 60, maxLength: 60 });
    fc.assert(
      fc.property(archivesArb, specArb, ownerArb, diskArb, linkedArb, (plain, spec, owner, disk, links) => {
        const archives = plain.map((a, i) => ({ ...a, fingerprint: { ...a.fingerprint, nlink: links[i] } }));
        const result = planRetention({ snapshot: snapshotOf(archives), policy: policyOf(spec), owners: () => owner, disk, nowMs: NOW });
        const pressured = result.deletions.filter((d) => d.reason === 'disk_pressure');
        for (const deletion of pressured) expect(deletion.fingerprint.nlink).toBe(1);
        // Each container that lost an archive to pressure still has its newest `keepNewestPerContainer` (1).
        for (const deletion of pressured) {
          const id = deletion.identity!;
          const newest = archives
            .filter((a) => a.identity?.namespace === id.namespace && a.identity.pod === id.pod && a.identity.container === id.container)
            .sort((a, b) => a.name.timestampMs - b.name.timestampMs || a.fingerprint.mtimeMs - b.fingerprint.mtimeMs || (a.fileName < b.fileName ? -1 : 1))
            .at(-1)!;
          expect(deletion.fileName).not.toBe(newest.fileName);
        }
      }),
      { numRuns: numRuns(300) },
    );
  });

  it('with only a per-container count, deletes exactly the oldest excess of each container', () => {
    fc.assert(
      fc.property(archivesArb, fc.integer({ min: 1, max: 5 }), (archives, limit) => {
        const unpinned = archives.map((a) => ({ ...a, pinned: false }));
        const result = planRetention({ snapshot: snapshotOf(unpinned), policy: policyOf({ globalPolicy: { maxCheckpointsPerContainer: limit } }), owners: () => ({ state: 'alive' }), disk: undefined, nowMs: NOW });
        const expected: string[] = [];
        const byContainer = new Map<string, ArchiveRecord[]>();
        for (const a of unpinned) {
          // Unidentified and future-dated archives are neither counted nor deleted.
          if (!a.identity || a.name.timestampMs > NOW + DEFAULT_FUTURE_TOLERANCE_MS) continue;
          const key = `${a.identity.namespace}/${a.identity.pod}/${a.identity.container}`;
          byContainer.set(key, [...(byContainer.get(key) ?? []), a]);
        }
        for (const list of byContainer.values()) {
          list.sort((x, y) => x.name.timestampMs - y.name.timestampMs);
          expected.push(...list.slice(0, Math.max(0, list.length - limit)).map((a) => a.fileName));
        }
        expect(result.deletions.map((d) => d.fileName).sort()).toEqual(expected.sort());
        expect(result.deletions.every((d) => d.reason === 'count')).toBe(true);
      }),
      { numRuns: numRuns(200) },
    );
  });

  it('keeps to every limit the policy sets, as an oracle enumerates them from the policy alone', () => {
    fc.assert(
      fc.property(archivesArb, specArb, ownersArb, diskArb, (archives, spec, owners, disk) => {
        const policy = policyOf(spec);
        const result = planRetention({ snapshot: snapshotOf(archives), policy, owners, disk, nowMs: NOW });
        expect(violationsOf({ archives, policy, owners, disk, nowMs: NOW, futureToleranceMs: DEFAULT_FUTURE_TOLERANCE_MS }, result)).toEqual([]);
      }),
      { numRuns: numRuns(400) },
    );
  });

  it('the node-wide disk-pressure pass alone plans what planRetention plans for pressure, given the limits it planned', () => {
    const linkedArb = fc.array(fc.constantFrom(1, 1, 1, 2), { minLength: 60, maxLength: 60 });
    const pressingArb = fc.integer({ min: 50, max: 100 }).map((usedPercent) => ({ sizeBytes: 400 * MiB, freeBytes: ((100 - usedPercent) * 400 * MiB) / 100, availBytes: ((100 - usedPercent) * 400 * MiB) / 100 }));
    fc.assert(
      fc.property(archivesArb, specArb, ownersArb, pressingArb, linkedArb, (plain, spec, owners, disk, links) => {
        const archives = plain.map((a, i) => ({ ...a, fingerprint: { ...a.fingerprint, nlink: links[i] } }));
        const policy = policyOf(spec);
        const whole = planRetention({ snapshot: snapshotOf(archives), policy, owners, disk, nowMs: NOW });
        const alreadyPlanned = new Set(whole.deletions.filter((d) => d.reason !== 'disk_pressure').map((d) => d.fileName));
        const alone = planNodeDiskPressure({ archives, alreadyPlanned, disk, policy, owners, nowMs: NOW });
        expect(alone).toEqual(whole.deletions.filter((d) => d.reason === 'disk_pressure'));
      }),
      { numRuns: numRuns(200) },
    );
  });
});

function hash(text: string): number {
  let h = 2166136261;
  for (const char of text) h = Math.imul(h ^ char.charCodeAt(0), 16777619) >>> 0;
  return h;
}
