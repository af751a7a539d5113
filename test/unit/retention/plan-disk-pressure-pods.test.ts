import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { compareArchiveAge } from '../../../src/archive/age-order.js';
import { DEFAULT_FUTURE_TOLERANCE_MS } from '../../../src/defaults.js';
import type { ArchiveRecord } from '../../../src/inventory/types.js';
import { planFilesystemDiskPressure, planNodeDiskPressure, type PodPressureArchives } from '../../../src/retention/plan-disk-pressure.js';
import type { DiskStats, OwnerLookup, RetentionPolicy } from '../../../src/retention/types.js';
import { numRuns } from '../../support/properties.js';
import { MINUTE, MiB, SOURCE, T0, allAlive, archive, ownersByPod, policyOf } from './builders.js';

/**
 * Disk pressure over both checkpoint directories (issue 20): one plan per filesystem, the pod
 * checkpoint directory's archives (records whose container is empty) among the container archives
 * when they share it, or planned alone against their own filesystem.
 */
const NOW = T0 + 24 * 60 * MINUTE;

/** A 100 MiB filesystem with `usedMiB` used. */
const disk = (usedMiB: number): DiskStats => ({ sizeBytes: 100 * MiB, freeBytes: (100 - usedMiB) * MiB, availBytes: (100 - usedMiB) * MiB });

const pressure = (low: number, keepNewestPerContainer = 1, global: Record<string, unknown> = {}): RetentionPolicy =>
  policyOf({ globalPolicy: { maxCheckpointsPerContainer: 0, ...global }, diskPressure: { highThresholdPercent: 80, lowThresholdPercent: low, keepNewestPerContainer } });

/** A pod-level archive of `pod` in namespace shop, 10 MiB unless given. */
const podArchive = (pod: string, minute: number, extra: Partial<Parameters<typeof archive>[0]> = {}): ArchiveRecord => archive({ namespace: 'shop', pod, container: '', minute, size: 10 * MiB, ...extra });
const containerArchive = (container: string, minute: number, extra: Partial<Parameters<typeof archive>[0]> = {}): ArchiveRecord =>
  archive({ namespace: 'shop', pod: 'cart-0', container, minute, size: 10 * MiB, ...extra });

const pods = (archives: readonly ArchiveRecord[], more: Partial<PodPressureArchives> = {}): PodPressureArchives => ({ archives, alreadyPlanned: new Set(), referenced: new Set(), ...more });

function planBoth(input: {
  containers: readonly ArchiveRecord[];
  pods?: PodPressureArchives;
  policy: RetentionPolicy;
  usedMiB: number;
  owners?: OwnerLookup;
  alreadyPlanned?: ReadonlySet<string>;
}): { containers: string[]; pods: string[]; all: ReturnType<typeof planFilesystemDiskPressure> } {
  const all = planFilesystemDiskPressure({
    archives: input.containers,
    alreadyPlanned: input.alreadyPlanned ?? new Set(),
    ...(input.pods !== undefined ? { podArchives: input.pods } : {}),
    disk: disk(input.usedMiB),
    policy: input.policy,
    owners: input.owners ?? allAlive,
    nowMs: NOW,
  });
  return { containers: all.containers.map((d) => d.fileName), pods: all.pods.map((d) => d.fileName), all };
}

const names = (records: readonly ArchiveRecord[]): string[] => records.map((r) => r.fileName);

describe('disk pressure over the container and pod checkpoint directories on one filesystem', () => {
  it('takes the oldest of both directories together, oldest first, and returns each directory\'s deletions apart', () => {
    const api = [0, 2, 4, 6].map((m) => containerArchive('api', m));
    const web = [1, 3, 5].map((m) => podArchive('web-0', m));
    // 90% used, low mark 60%: more than 30 MiB must go, four archives of 10 MiB, oldest first across both.
    const { containers, pods: podDeletions, all } = planBoth({ containers: api, pods: pods(web), policy: pressure(60), usedMiB: 90 });
    expect(containers).toEqual(names([api[0]!, api[1]!]));
    expect(podDeletions).toEqual(names([web[0]!, web[1]!]));
    for (const d of [...all.containers, ...all.pods]) expect(d).toMatchObject({ reason: 'disk_pressure', scope: { level: 'node' }, policySource: `${SOURCE} diskPressure` });
    expect(all.pods[0]!.identity).toEqual({ namespace: 'shop', pod: 'web-0', container: '' });
  });

  it('without pod archives plans exactly what planNodeDiskPressure plans', () => {
    const api = [0, 2, 4, 6].map((m) => containerArchive('api', m));
    const input = { archives: api, alreadyPlanned: new Set<string>(), disk: disk(90), policy: pressure(60), owners: allAlive, nowMs: NOW };
    expect(planFilesystemDiskPressure(input)).toEqual({ containers: planNodeDiskPressure(input), pods: [] });
  });

  it('takes container orphans past their grace period first; pod archives compete by age', () => {
    const api = [0, 2, 4].map((m) => containerArchive('api', m));
    const orphan = [10, 11].map((m) => archive({ namespace: 'shop', pod: 'gone-0', container: 'x', minute: m, size: 10 * MiB }));
    const web = [1, 3].map((m) => podArchive('web-0', m));
    const owners = ownersByPod({ 'shop/gone-0': { state: 'orphan', sinceMs: T0 } });
    // More than 30 MiB: the orphan's older archive first (its newest stays), then the oldest of the rest.
    const { containers, pods: podDeletions, all } = planBoth({ containers: [...api, ...orphan], pods: pods(web), policy: pressure(60), usedMiB: 90, owners });
    expect(containers).toEqual(names([orphan[0]!, api[0]!, api[1]!]));
    expect(podDeletions).toEqual(names([web[0]!]));
    // The order of planning: the orphan, then by age across both directories.
    const order = [...all.containers, ...all.pods].map((d) => d.fileName);
    expect(new Set(order)).toEqual(new Set(names([orphan[0]!, api[0]!, web[0]!, api[1]!])));
  });

  it('keeps the newest keepNewestPerContainer pod archives of each pod, per pod', () => {
    // web-0's only archive is the oldest of all: plain oldest-first would take it.
    const lone = podArchive('web-0', 0);
    const web1 = [1, 2, 3, 4].map((m) => podArchive('web-1', m));
    const api = [5, 6].map((m) => containerArchive('api', m));
    const one = planBoth({ containers: api, pods: pods([lone, ...web1]), policy: pressure(10), usedMiB: 99 });
    // Everything takeable goes and usage stays above the low mark: the newest of each pod and container stay.
    expect(one.pods).toEqual(names(web1.slice(0, 3)));
    expect(one.containers).toEqual(names([api[0]!]));
    const two = planBoth({ containers: api, pods: pods([lone, ...web1]), policy: pressure(10, 2), usedMiB: 99 });
    expect(two.pods).toEqual(names(web1.slice(0, 2)));
    expect(two.containers).toEqual([]);
  });

  it('never takes a pinned, unidentified or future-dated pod archive, nor one a live PodCheckpoint object references', () => {
    const pinned = podArchive('web-0', 0, { pinned: true });
    const unidentified = podArchive('web-0', 1, { identified: false });
    const referenced = podArchive('web-0', 2);
    const future = podArchive('web-0', 24 * 60 + 60);
    const plain = podArchive('web-0', 3);
    const newest = podArchive('web-0', 4);
    const all = [pinned, unidentified, referenced, future, plain, newest];
    const kept = planBoth({ containers: [], pods: pods(all, { referenced: new Set([referenced.fileName]) }), policy: pressure(10), usedMiB: 99 });
    expect(kept.pods).toEqual([plain.fileName]);
    // deleteReferencedPodCheckpoints: true lets pressure take the referenced one like any other; the pin stays.
    const taken = planBoth({ containers: [], pods: pods(all, { referenced: new Set([referenced.fileName]) }), policy: pressure(10, 1, { deleteReferencedPodCheckpoints: true }), usedMiB: 99 });
    expect(taken.pods).toEqual(names([referenced, plain]));
  });

  it('a referenced pod archive that is its pod\'s newest counts as the one kept, so the next older one may go', () => {
    const older = podArchive('web-0', 0);
    const newestReferenced = podArchive('web-0', 1);
    const result = planBoth({ containers: [], pods: pods([older, newestReferenced], { referenced: new Set([newestReferenced.fileName]) }), policy: pressure(10), usedMiB: 99 });
    expect(result.pods).toEqual([older.fileName]);
  });

  it('counts what the pod plan in force deletes as freed, and plans less', () => {
    const web = [0, 1, 2, 3].map((m) => podArchive('web-0', m));
    const api = [4, 5, 6].map((m) => containerArchive('api', m));
    // More than 30 MiB: the pod limits already delete the oldest pod archive, so three more go, not four.
    const result = planBoth({ containers: api, pods: pods(web, { alreadyPlanned: new Set([web[0]!.fileName]) }), policy: pressure(60), usedMiB: 90 });
    expect(result.pods).toEqual(names([web[1]!, web[2]!]));
    expect(result.containers).toEqual(names([api[0]!]));
  });

  describe('hard links across the two directories', () => {
    // A pod archive and a container archive sharing one inode (a link made from one directory to the other).
    const linkedContainer = containerArchive('api', 0, { ino: 42, nlink: 2 });
    const linkedPod = podArchive('web-0', 1, { ino: 42, nlink: 2 });
    const moreApi = [2, 4, 6].map((m) => containerArchive('api', m));
    const moreWeb = [3, 5].map((m) => podArchive('web-0', m));

    it('go together, and free their blocks once', () => {
      // More than 20 MiB (90% → below 70%): the linked pair frees 10 MiB, then api@2 and web@3 go; with the
      // pair counted twice, api@2 alone would have looked enough.
      const result = planBoth({ containers: [linkedContainer, ...moreApi], pods: pods([linkedPod, ...moreWeb]), policy: pressure(70), usedMiB: 90 });
      expect(result.containers).toEqual(names([linkedContainer, moreApi[0]!]));
      expect(result.pods).toEqual(names([linkedPod, moreWeb[0]!]));
    });

    it('neither goes while the pod archive is referenced, pinned or its pod\'s newest', () => {
      const cases: [string, PodPressureArchives][] = [
        ['referenced', pods([linkedPod, ...moreWeb], { referenced: new Set([linkedPod.fileName]) })],
        ['pinned', pods([{ ...linkedPod, pinned: true }, ...moreWeb])],
        ['its pod\'s newest', pods([linkedPod])],
      ];
      for (const [label, podInput] of cases) {
        const result = planBoth({ containers: [linkedContainer, ...moreApi], pods: podInput, policy: pressure(70), usedMiB: 90 });
        expect([label, result.containers]).toEqual([label, expect.not.arrayContaining([linkedContainer.fileName])]);
        expect([label, result.pods]).toEqual([label, expect.not.arrayContaining([linkedPod.fileName])]);
        expect([label, result.all.containers[0]?.detail]).toEqual([label, expect.stringContaining('not taken: 1 hard-linked archive (10 MiB) whose deletion frees nothing')]);
      }
    });

    it('the container archive is not taken while the pod archives are left out (objects unknown): its other link is not known', () => {
      const result = planBoth({ containers: [linkedContainer, ...moreApi], policy: pressure(70), usedMiB: 90 });
      expect(result.containers).toEqual(names(moreApi.slice(0, 2)));
      expect(result.pods).toEqual([]);
    });

    it('a pod archive whose inode has a link outside both directories is not taken', () => {
      const backedUp = podArchive('web-0', 0, { nlink: 2 });
      const result = planBoth({ containers: [], pods: pods([backedUp, ...moreWeb]), policy: pressure(70), usedMiB: 90 });
      expect(result.pods).toEqual([moreWeb[0]!.fileName]);
    });
  });
});

describe('disk pressure on a pod checkpoint directory of its own filesystem', () => {
  it('plans its archives alone against that filesystem\'s usage, oldest first, the newest of each pod kept', () => {
    const web0 = [0, 2, 4].map((m) => podArchive('web-0', m));
    const web1 = [1, 3].map((m) => podArchive('web-1', m));
    const result = planFilesystemDiskPressure({
      archives: [],
      alreadyPlanned: new Set(),
      podArchives: pods([...web0, ...web1]),
      disk: disk(90),
      policy: pressure(70),
      owners: () => {
        throw new Error('pod archives are not looked up as containers');
      },
      nowMs: NOW,
      filesystem: "pod checkpoint directory's filesystem",
    });
    expect(result.containers).toEqual([]);
    expect(result.pods.map((d) => d.fileName)).toEqual(names([web0[0]!, web1[0]!, web0[1]!]));
    expect(result.pods[0]!.detail).toBe(`pod checkpoint directory's filesystem is 90.0% used, above the 80% high mark; oldest archives go until below 70% (${SOURCE} diskPressure)`);
  });

  it('plans nothing at or below the high mark, or without a diskPressure policy', () => {
    const web = [0, 1, 2].map((m) => podArchive('web-0', m));
    const base = { archives: [], alreadyPlanned: new Set<string>(), podArchives: pods(web), owners: allAlive, nowMs: NOW };
    expect(planFilesystemDiskPressure({ ...base, disk: disk(80), policy: pressure(10) }).pods).toEqual([]);
    expect(planFilesystemDiskPressure({ ...base, disk: disk(99), policy: policyOf({}) }).pods).toEqual([]);
  });
});

describe('disk pressure over both directories, for any mix of archives, pins, references and hard links', () => {
  const specArb = fc.record({
    pod: fc.constantFrom('web-0', 'web-1', 'cart-0'),
    // '' is a pod-level archive.
    container: fc.constantFrom('', '', 'api', 'side'),
    minute: fc.integer({ min: 0, max: 24 * 60 + 60 }),
    size: fc.integer({ min: 1, max: 8 * MiB }),
    pinned: fc.integer({ min: 0, max: 7 }).map((n) => n === 0),
    identified: fc.integer({ min: 0, max: 9 }).map((n) => n !== 0),
    referenced: fc.integer({ min: 0, max: 4 }).map((n) => n === 0),
    alreadyPlanned: fc.integer({ min: 0, max: 9 }).map((n) => n === 0),
    // Archives of one group share an inode; undefined: an inode of its own.
    group: fc.option(fc.integer({ min: 0, max: 5 }), { nil: undefined, freq: 2 }),
    // A link outside both directories as well.
    linkedOutside: fc.integer({ min: 0, max: 9 }).map((n) => n === 0),
  });
  const inputArb = fc.record({
    specs: fc.uniqueArray(specArb, { maxLength: 40, selector: (a) => `${a.pod}/${a.container}/${a.minute}` }),
    usedPercent: fc.integer({ min: 50, max: 100 }),
    keep: fc.integer({ min: 0, max: 2 }),
    deleteReferenced: fc.boolean(),
  });

  it('plans each deletion for its own directory, never a kept archive, whole inodes only, and the newest of each container and pod stay', () => {
    fc.assert(
      fc.property(inputArb, ({ specs, usedPercent, keep, deleteReferenced }) => {
        const groupSize = new Map<number, number>();
        for (const spec of specs) if (spec.group !== undefined) groupSize.set(spec.group, (groupSize.get(spec.group) ?? 0) + 1);
        const records = specs.map((spec) => {
          const shared = spec.group === undefined ? undefined : (groupSize.get(spec.group) ?? 1);
          const nlink = (shared ?? 1) + (spec.linkedOutside ? 1 : 0);
          return archive({ namespace: 'shop', pod: spec.pod, container: spec.container, minute: spec.minute, size: spec.size, pinned: spec.pinned, identified: spec.identified, nlink, ...(spec.group === undefined ? {} : { ino: 1_000_000 + spec.group }) });
        });
        const specOf = new Map(records.map((record, i) => [record.fileName, specs[i]!]));
        const containerRecords = records.filter((r) => r.name.namespaceContainer !== 'shop-');
        const podRecords = records.filter((r) => r.name.namespaceContainer === 'shop-');
        const referenced = new Set(podRecords.filter((r) => specOf.get(r.fileName)!.referenced).map((r) => r.fileName));
        const plannedBefore = (rs: readonly ArchiveRecord[]): Set<string> => new Set(rs.filter((r) => specOf.get(r.fileName)!.alreadyPlanned).map((r) => r.fileName));
        const policy = pressure(40, keep, { deleteReferencedPodCheckpoints: deleteReferenced });
        const result = planFilesystemDiskPressure({
          archives: containerRecords,
          alreadyPlanned: plannedBefore(containerRecords),
          podArchives: { archives: podRecords, referenced, alreadyPlanned: plannedBefore(podRecords) },
          disk: disk(usedPercent),
          policy,
          owners: allAlive,
          nowMs: NOW,
        });
        const containerNames = new Set(result.containers.map((d) => d.fileName));
        const podNames = new Set(result.pods.map((d) => d.fileName));
        // Each directory's deletions are of its own archives, each once.
        expect(containerNames.size).toBe(result.containers.length);
        expect(podNames.size).toBe(result.pods.length);
        for (const name of containerNames) expect(containerRecords.some((r) => r.fileName === name)).toBe(true);
        for (const name of podNames) expect(podRecords.some((r) => r.fileName === name)).toBe(true);
        const planned = new Set([...containerNames, ...podNames]);
        if (usedPercent <= 80) expect(planned.size).toBe(0);
        for (const record of records) {
          if (!planned.has(record.fileName)) continue;
          const spec = specOf.get(record.fileName)!;
          // Never a kept archive.
          expect(record.pinned || record.identity === undefined || spec.alreadyPlanned).toBe(false);
          expect(record.name.timestampMs > NOW + DEFAULT_FUTURE_TOLERANCE_MS).toBe(false);
          if (podRecords.includes(record) && !deleteReferenced) expect(referenced.has(record.fileName)).toBe(false);
          // Whole inodes only: every link is one of these archives, and each of them goes or was going.
          expect(spec.linkedOutside).toBe(false);
          const links = records.filter((r) => r.fingerprint.ino === record.fingerprint.ino);
          for (const link of links) expect(planned.has(link.fileName) || specOf.get(link.fileName)!.alreadyPlanned).toBe(true);
        }
        // The newest `keep` of each container and of each pod's pod archives stay, counted among those not already going.
        const scopes = new Map<string, ArchiveRecord[]>();
        for (const record of records) {
          if (record.identity === undefined || specOf.get(record.fileName)!.alreadyPlanned || record.name.timestampMs > NOW + DEFAULT_FUTURE_TOLERANCE_MS) continue;
          const key = `${record.identity.pod}/${record.identity.container}`;
          scopes.set(key, [...(scopes.get(key) ?? []), record]);
        }
        for (const members of scopes.values()) {
          const newest = [...members].sort((a, b) => compareArchiveAge(a, b)).slice(-keep || members.length);
          if (keep > 0) for (const record of newest) expect(planned.has(record.fileName)).toBe(false);
        }
      }),
      { numRuns: numRuns(300) },
    );
  });
});
