import { describe, expect, it } from '@jest/globals';
import { pino } from 'pino';
import type { ArchiveIdentity } from '../../../src/archive/types.js';
import { createRetentionRunner, type RetentionRunnerDeps } from '../../../src/daemon/retention-runner.js';
import { createArchiveIndex, type MutableArchiveIndex } from '../../../src/inventory/archive-index.js';
import type { ArchiveRecord, InventoryStatus } from '../../../src/inventory/types.js';
import { mergePolicies } from '../../../src/retention/merge-policies.js';
import type { DiskStats, OwnerLookup, RetentionPlan, RetentionPolicy } from '../../../src/retention/types.js';
import { MiB, policyOf } from '../retention/builders.js';
import { archiveRecord, inventoryStatus } from '../../support/snapshots.js';
import { waitUntil } from '../../support/wait.js';

const NOW = Date.parse('2026-02-01T00:00:00Z');
const web = { namespace: 'default', pod: 'web', container: 'app' };
const unknownOwners: OwnerLookup = () => ({ state: 'unknown', reason: 'test' });
/** 10 archives per container by default: the default policy's only limit. */
const DEFAULT_LIMIT = 10;

/** `count` archives of one container, an hour apart, oldest first. */
function archivesOf(identity: ArchiveIdentity, count: number, size = 10, fromHour = 0): ArchiveRecord[] {
  return Array.from({ length: count }, (_, i) =>
    archiveRecord(identity, { timestamp: new Date(Date.parse('2026-01-01T00:00:00Z') + (fromHour + i) * 3_600_000).toISOString().replace('.000', ''), size }),
  );
}

function indexOf(...lists: ArchiveRecord[][]): MutableArchiveIndex {
  const index = createArchiveIndex();
  for (const list of lists) for (const record of list) index.add(record);
  return index;
}

interface RunnerOptions {
  readonly index: MutableArchiveIndex;
  readonly status?: () => Partial<InventoryStatus>;
  readonly policy?: () => RetentionPolicy;
  readonly resolveOwners?: (identities: readonly ArchiveIdentity[]) => Promise<OwnerLookup>;
  readonly policiesReady?: () => boolean;
  readonly diskStats?: () => Promise<DiskStats>;
  readonly sliceArchives?: number;
  readonly ownerRefreshMs?: number;
  readonly onExecute?: (plan: RetentionPlan) => void;
}

function runner(opts: RunnerOptions) {
  const executed: RetentionPlan[] = [];
  const errors: string[] = [];
  const deps: RetentionRunnerDeps = {
    inventory: { index: () => opts.index, status: () => inventoryStatus(opts.index, [], opts.status?.() ?? {}) },
    policy: opts.policy ?? (() => mergePolicies([])),
    policiesReady: opts.policiesReady ?? (() => true),
    resolveOwners: opts.resolveOwners ?? (async () => unknownOwners),
    diskStats: opts.diskStats ?? (async () => ({ sizeBytes: 1e9, freeBytes: 9e8, availBytes: 9e8 })),
    execute: async (plan) => {
      executed.push(plan);
      opts.onExecute?.(plan);
    },
    metrics: { observer: { onDeleted: () => undefined, onError: () => undefined }, recordError: (op) => errors.push(op) },
    logger: pino({ level: 'silent' }),
    now: () => NOW,
    ownerRefreshMs: opts.ownerRefreshMs ?? 0,
    ...(opts.sliceArchives === undefined ? {} : { sliceArchives: opts.sliceArchives }),
  };
  return { instance: createRetentionRunner(deps), executed, errors };
}

const fileNames = (plan: RetentionPlan | undefined): string[] => (plan?.deletions ?? []).map((d) => d.fileName).sort();

describe('retention runner', () => {
  it('deletes the oldest archives beyond the limit on a full run, and keeps that plan in force', async () => {
    const list = archivesOf(web, 12);
    const { instance, executed } = runner({ index: indexOf(list) });
    await instance.trigger();
    const oldest = list.slice(0, 12 - DEFAULT_LIMIT).map((r) => r.fileName).sort();
    expect(executed.map(fileNames)).toEqual([oldest]);
    expect(fileNames(instance.lastPlan())).toEqual(oldest);
    expect(instance.lastRunMs()).toBe(NOW);
    expect(instance.work()).toMatchObject({ fullRuns: 1, scopedRuns: 0, archivesPlanned: 12 });
  });

  it('plans on the directory as it is after the owner lookups, not before', async () => {
    // 12 archives when the run starts (2 over the default limit); someone removes 4 while owners are looked up.
    const list = archivesOf(web, 12);
    const index = indexOf(list);
    const { instance, executed } = runner({
      index,
      resolveOwners: async () => {
        for (const record of list.slice(0, 4)) index.remove(record);
        return unknownOwners;
      },
    });
    await instance.trigger();
    expect(executed).toEqual([]);
    expect(instance.lastPlan()?.deletions).toEqual([]);
  });

  it('does not plan until the policy sources are ready, then does', async () => {
    let ready = false;
    const { instance, executed } = runner({ index: indexOf(archivesOf(web, 12)), policiesReady: () => ready });
    await instance.trigger();
    instance.namespacesChanged([web.namespace]);
    await instance.settled();
    expect(executed).toHaveLength(0);
    expect(instance.lastRunMs()).toBeUndefined();
    expect(instance.lastPlan()).toBeUndefined();
    ready = true;
    await instance.trigger();
    expect(executed).toHaveLength(1);
    expect(executed[0]!.deletions).toHaveLength(2);
  });

  it('does not plan on an incomplete initial scan; the full run asked for once it completes does', async () => {
    let complete = false;
    const { instance, executed } = runner({ index: indexOf(archivesOf(web, 12)), status: () => ({ initialScanComplete: complete }) });
    await instance.trigger();
    instance.namespacesChanged([web.namespace]);
    await instance.settled();
    expect(executed).toHaveLength(0);
    expect(instance.work()).toMatchObject({ fullRuns: 0, scopedRuns: 0, planCalls: 0 });
    complete = true;
    instance.requestFull();
    await instance.settled();
    expect(executed).toHaveLength(1);
    expect(executed[0]!.deletions).toHaveLength(2);
  });

  it('coalesces requests that arrive during a run into one more run', async () => {
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let lookups = 0;
    const { instance } = runner({
      index: indexOf(archivesOf(web, 3)),
      resolveOwners: async () => {
        lookups += 1;
        if (lookups === 1) await gate;
        return unknownOwners;
      },
    });
    const first = instance.trigger();
    instance.requestFull();
    void instance.trigger();
    instance.namespacesChanged([web.namespace]);
    release();
    await first;
    await instance.settled();
    // One run in flight, then one more for everything that arrived meanwhile (a full run covers the namespace).
    expect(instance.work()).toMatchObject({ fullRuns: 2, scopedRuns: 0 });
    expect(lookups).toBe(2);
  });

  it('counts a failed owner lookup as a planning error and deletes nothing', async () => {
    const { instance, executed, errors } = runner({ index: indexOf(archivesOf(web, 12)), resolveOwners: () => Promise.reject(new Error('boom')) });
    await instance.trigger();
    expect(executed).toHaveLength(0);
    expect(errors).toEqual(['plan']);
  });

  it('counts a run on a missing directory as completed and empty, dropping the plan that was in force', async () => {
    let present = true;
    const { instance, executed } = runner({ index: indexOf(archivesOf(web, 12)), status: () => ({ directoryPresent: present }) });
    await instance.trigger();
    expect(instance.lastPlan()?.deletions).toHaveLength(2);
    present = false;
    await instance.trigger();
    expect(executed).toHaveLength(1);
    expect(instance.lastRunMs()).toBe(NOW);
    expect(instance.lastPlan()?.deletions).toEqual([]);
  });

  it('re-plans only the namespaces that changed, keeping the plan of the others in force', async () => {
    const a = { namespace: 'a', pod: 'p', container: 'c' };
    const b = { namespace: 'b', pod: 'p', container: 'c' };
    const listA = archivesOf(a, 12);
    const listB = archivesOf(b, 11);
    const index = indexOf(listA, listB);
    const { instance, executed } = runner({ index });
    await instance.trigger();
    expect(fileNames(instance.lastPlan())).toEqual([...listA.slice(0, 2), ...listB.slice(0, 1)].map((r) => r.fileName).sort());
    const plannedBefore = instance.work().archivesPlanned;

    const newer = archivesOf(b, 1, 10, 100);
    index.add(newer[0]!);
    instance.namespacesChanged([b.namespace]);
    await instance.settled();
    expect(instance.work()).toMatchObject({ fullRuns: 1, scopedRuns: 1 });
    // Only b's 12 archives were planned again.
    expect(instance.work().archivesPlanned - plannedBefore).toBe(12);
    expect(fileNames(executed.at(-1))).toEqual(listB.slice(0, 2).map((r) => r.fileName).sort());
    // a's deletions stay in the plan in force beside b's new ones.
    expect(fileNames(instance.lastPlan())).toEqual([...listA.slice(0, 2), ...listB.slice(0, 2)].map((r) => r.fileName).sort());

    // Every archive of a is gone: its part of the plan goes with it.
    for (const record of listA) index.remove(record);
    instance.namespacesChanged([a.namespace]);
    await instance.settled();
    expect(fileNames(instance.lastPlan())).toEqual(listB.slice(0, 2).map((r) => r.fileName).sort());
  });

  it('merges the effective limits of every namespace into the plan in force', async () => {
    const a = { namespace: 'a', pod: 'p', container: 'c' };
    const b = { namespace: 'b', pod: 'p', container: 'c' };
    const index = indexOf(archivesOf(a, 2), archivesOf(b, 2));
    const policy = policyOf({ namespacePolicies: [{ namespace: 'a', maxCheckpoints: 5 }, { namespace: 'b', maxCheckpoints: 6 }] });
    const { instance } = runner({ index, policy: () => policy });
    await instance.trigger();
    instance.namespacesChanged(['b']);
    await instance.settled();
    const limits = instance.lastPlan()!.effectiveLimits.map((l) => `${l.namespace} ${l.limit}=${l.value}`).sort();
    expect(limits).toEqual(['a count=5', 'b count=6']);
  });

  it('plans a full run in slices of whole namespaces, executing each slice before the next and yielding in between', async () => {
    const namespaces = ['n1', 'n2', 'n3', 'n4', 'n5', 'n6'];
    const lists = namespaces.map((namespace) => archivesOf({ namespace, pod: 'p', container: 'c' }, 3));
    let ticks = 0;
    let ticking = true;
    const tick = (): void => {
      ticks += 1;
      if (ticking) setImmediate(tick);
    };
    const ticksAtExecute: number[] = [];
    // One archive per container over its limit, so every slice has a deletion to execute.
    const policy = policyOf({ globalPolicy: { maxCheckpointsPerContainer: 2 } });
    const { instance, executed } = runner({ index: indexOf(...lists), policy: () => policy, sliceArchives: 5, onExecute: () => ticksAtExecute.push(ticks) });
    setImmediate(tick);
    try {
      await instance.trigger();
    } finally {
      ticking = false;
    }
    // Slices close once they reach 5 archives: n1+n2, n3+n4, n5+n6.
    expect(instance.work()).toMatchObject({ fullRuns: 1, planCalls: 3, archivesPlanned: 18 });
    expect(executed.map(fileNames)).toEqual([0, 2, 4].map((i) => [lists[i]![0]!.fileName, lists[i + 1]![0]!.fileName].sort()));
    for (let i = 1; i < ticksAtExecute.length; i += 1) expect(ticksAtExecute[i]).toBeGreaterThan(ticksAtExecute[i - 1]!);
    expect(instance.lastPlan()!.deletions).toHaveLength(6);
  });

  it('plans only the changed namespace per change when namespaces change one at a time, never the whole directory', async () => {
    const namespaces = Array.from({ length: 40 }, (_, i) => `ns-${i}`);
    const index = indexOf(...namespaces.map((namespace) => archivesOf({ namespace, pod: 'p', container: 'c' }, 5)));
    const { instance } = runner({ index });
    await instance.trigger();
    expect(instance.work().archivesPlanned).toBe(200);
    for (const namespace of namespaces) {
      instance.namespacesChanged([namespace]);
      await instance.settled();
    }
    expect(instance.work()).toMatchObject({ fullRuns: 1, scopedRuns: 40, archivesPlanned: 400 });
  });

  it('adds node-wide disk-pressure deletions while the disk is above the high mark, and drops them once below', async () => {
    const a = { namespace: 'a', pod: 'p', container: 'c' };
    const b = { namespace: 'b', pod: 'p', container: 'c' };
    const listA = archivesOf(a, 4, MiB);
    const listB = archivesOf(b, 4, MiB, 10);
    let usedMiB = 95;
    const policy = policyOf({ diskPressure: { highThresholdPercent: 85, lowThresholdPercent: 80, keepNewestPerContainer: 1 } });
    const { instance, executed } = runner({
      index: indexOf(listA, listB),
      policy: () => policy,
      diskStats: async () => ({ sizeBytes: 100 * MiB, freeBytes: (100 - usedMiB) * MiB, availBytes: (100 - usedMiB) * MiB }),
    });
    await instance.trigger();
    // 95% used: 16 MiB must go to get below 80%, but only 3 + 3 archives may (the newest of each container stays).
    const expected = [...listA.slice(0, 3), ...listB.slice(0, 3)].map((r) => r.fileName).sort();
    expect(fileNames(instance.lastPlan())).toEqual(expected);
    expect(instance.lastPlan()!.deletions.every((d) => d.reason === 'disk_pressure')).toBe(true);
    expect(fileNames(executed.at(-1))).toEqual(expected);

    usedMiB = 50;
    instance.namespacesChanged(['a']);
    await instance.settled();
    expect(instance.lastPlan()!.deletions).toEqual([]);
  });

  it('looks owners up again periodically and re-plans only the namespaces holding orphans', async () => {
    const gone = { namespace: 'gone', pod: 'p', container: 'c' };
    const index = indexOf(archivesOf(web, 3), archivesOf(gone, 4));
    let lookups = 0;
    const { instance } = runner({
      index,
      ownerRefreshMs: 20,
      resolveOwners: async () => {
        lookups += 1;
        return (id) => (id.namespace === gone.namespace ? { state: 'orphan', sinceMs: NOW } : { state: 'alive' });
      },
    });
    try {
      await instance.trigger();
      const planned = instance.work().archivesPlanned;
      await waitUntil(() => instance.work().scopedRuns >= 1 && lookups >= 2, 'an owner refresh and a scoped run');
      await instance.settled();
      const work = instance.work();
      // Each refresh re-plans the orphans' namespace alone: 4 archives per scoped run.
      expect(work.archivesPlanned - planned).toBe(4 * work.scopedRuns);
    } finally {
      await instance.stop();
    }
  });

  it('stops accepting requests once stopped, after the run in flight', async () => {
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let lookups = 0;
    const { instance, executed } = runner({
      index: indexOf(archivesOf(web, 12)),
      resolveOwners: async () => {
        lookups += 1;
        await gate;
        return unknownOwners;
      },
    });
    void instance.trigger();
    let stopped = false;
    const stopping = instance.stop().then(() => (stopped = true));
    await new Promise((wake) => setImmediate(wake));
    expect(stopped).toBe(false);
    release();
    await stopping;
    instance.requestFull();
    instance.namespacesChanged([web.namespace]);
    await instance.trigger();
    expect(lookups).toBe(1);
    // The run in flight was told to stop: it planned nothing after its owner lookup.
    expect(executed).toEqual([]);
  });
});

describe('retention runner: one plan per change, and a record of what each run deleted', () => {
  /**
   * The inventory learns of an unlink from its watch, some time after the executor returns. A runner
   * that plans again before that sees the deleted files still there; it must refresh them first.
   */
  function lagging(list: ArchiveRecord[]) {
    const index = indexOf(list);
    const onDisk = new Set(list.map((r) => r.fileName));
    const refreshed: string[][] = [];
    const executed: RetentionPlan[] = [];
    const deps: RetentionRunnerDeps = {
      inventory: {
        index: () => index,
        status: () => inventoryStatus(index),
        refresh: async (fileNames) => {
          const names = [...fileNames];
          refreshed.push(names);
          for (const name of names) {
            const record = list.find((r) => r.fileName === name);
            if (record !== undefined && !onDisk.has(name)) index.remove(record);
          }
        },
      },
      policy: () => mergePolicies([]),
      policiesReady: () => true,
      resolveOwners: async () => unknownOwners,
      diskStats: async () => ({ sizeBytes: 1e9, freeBytes: 9e8, availBytes: 9e8 }),
      execute: async (plan) => {
        executed.push(plan);
        const outcomes = plan.deletions.map((deletion) => {
          const existed = onDisk.delete(deletion.fileName);
          return existed ? { deletion, outcome: 'deleted' as const, bytes: deletion.fingerprint.size } : { deletion, outcome: 'skipped' as const, reason: 'already gone' };
        });
        const deleted = outcomes.filter((o) => o.outcome === 'deleted').length;
        return { dryRun: false, outcomes, deleted, wouldDelete: 0, skipped: outcomes.length - deleted, failed: 0, bytes: deleted * 10 };
      },
      metrics: { observer: { onDeleted: () => undefined, onError: () => undefined }, recordError: () => undefined },
      logger: pino({ level: 'silent' }),
      now: () => NOW,
      ownerRefreshMs: 0,
    };
    return { instance: createRetentionRunner(deps), executed, refreshed, index };
  }

  it('refreshes the unlinked files before planning again, so a later run never plans them a second time', async () => {
    const list = archivesOf(web, 13);
    const { instance, executed, refreshed, index } = lagging(list);
    await instance.trigger();
    const oldest = list.slice(0, 3).map((r) => r.fileName).sort();
    expect(executed.map(fileNames)).toEqual([oldest]);
    expect(refreshed.map((names) => [...names].sort())).toEqual([oldest]);
    expect(index.size).toBe(DEFAULT_LIMIT);
    // The watch events of those unlinks arrive: the namespace is planned again, and nothing is left to delete.
    instance.namespacesChanged([web.namespace]);
    await instance.settled();
    expect(executed).toHaveLength(1);
  });

  it('keeps the first run and its deletions, whatever later runs do', async () => {
    const list = archivesOf(web, 12);
    const { instance } = lagging(list);
    expect(instance.history()).toMatchObject({ firstRun: undefined, lastRun: undefined, firstRunDeletions: [], recentDeletions: [] });
    await instance.trigger();
    await instance.trigger();
    const history = instance.history();
    expect(history.firstRun).toMatchObject({ number: 1, kind: 'full', deleted: 2, deletedBytes: 20, skipped: 0, failed: 0 });
    expect(history.lastRun).toMatchObject({ number: 2, kind: 'full', deleted: 0 });
    expect(history.firstRunDeletions.map((d) => d.fileName).sort()).toEqual(list.slice(0, 2).map((r) => r.fileName).sort());
    expect(history.firstRunDeletions.every((d) => d.run === 1 && d.reason === 'count' && !d.dryRun && d.namespace === web.namespace)).toBe(true);
    expect(history.recentDeletions).toHaveLength(2);
  });
});

describe('retention runner: what it logs, once per change', () => {
  it('logs an unsatisfiable limit when it appears and when it is met again, and a future-dated archive once, not on every run', async () => {
    const lines: { level: number; msg: string }[] = [];
    const logger = pino({ level: 'info' }, { write: (line: string) => lines.push(JSON.parse(line) as { level: number; msg: string }) });
    // Two pinned archives against a limit of 1: the limit cannot be met while they stay pinned.
    const pinned = archivesOf(web, 2).map((record) => ({ ...record, pinned: true }));
    const future = archiveRecord(web, { timestamp: '2026-03-01T00:00:00Z', size: 10 });
    const index = indexOf(pinned, [future]);
    const policy = policyOf({ containerPolicies: [{ namespace: web.namespace, pod: web.pod, container: web.container, maxCheckpoints: 1 }] });
    const instance = createRetentionRunner({
      inventory: { index: () => index, status: () => inventoryStatus(index) },
      policy: () => policy,
      policiesReady: () => true,
      resolveOwners: async () => unknownOwners,
      diskStats: async () => ({ sizeBytes: 1e9, freeBytes: 9e8, availBytes: 9e8 }),
      execute: async () => undefined,
      metrics: { observer: { onDeleted: () => undefined, onError: () => undefined }, recordError: () => undefined },
      logger,
      now: () => NOW,
      ownerRefreshMs: 0,
    });
    const count = (text: string): number => lines.filter((line) => line.msg.includes(text)).length;
    await instance.trigger();
    instance.namespacesChanged([web.namespace]);
    await instance.settled();
    await instance.trigger();
    expect(instance.work()).toMatchObject({ fullRuns: 2, scopedRuns: 1 });
    expect(count('retention limit unsatisfiable')).toBe(1);
    expect(count('future-dated')).toBe(1);
    expect(count('satisfiable again')).toBe(0);

    // The pins go, and one unpinned archive is left: the limit is met again.
    for (const record of pinned) index.remove(record);
    index.add(archivesOf(web, 1, 10, 10)[0]!);
    instance.namespacesChanged([web.namespace]);
    await instance.settled();
    instance.namespacesChanged([web.namespace]);
    await instance.settled();
    expect(count('retention limit satisfiable again')).toBe(1);
    expect(count('retention limit unsatisfiable')).toBe(1);
    expect(count('future-dated')).toBe(1);
  });
});
