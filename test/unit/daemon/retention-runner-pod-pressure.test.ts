import { describe, expect, it } from '@jest/globals';
import { pino } from 'pino';
import type { ArchiveIdentity } from '../../../src/archive/types.js';
import { createRetentionRunner, POD_SCAN_WAIT_MS, type PodPressureSource, type RetentionRunnerDeps } from '../../../src/daemon/retention-runner.js';
import { createArchiveIndex } from '../../../src/inventory/archive-index.js';
import type { ArchiveRecord, InventoryStatus } from '../../../src/inventory/types.js';
import type { ExecutionResult } from '../../../src/retention/execute.js';
import type { DiskStats, RetentionPlan } from '../../../src/retention/types.js';
import { MiB, policyOf } from '../retention/builders.js';
import { archiveRecord, inventoryStatus } from '../../support/snapshots.js';

/**
 * The runner's disk-pressure pass with a pod checkpoint directory (issue 20): one plan per filesystem,
 * told apart by the directories' devices, and each directory's deletions carried out by its own executor.
 */
const NOW = Date.parse('2026-02-01T00:00:00Z');
const api: ArchiveIdentity = { namespace: 'shop', pod: 'cart-0', container: 'api' };
const web: ArchiveIdentity = { namespace: 'shop', pod: 'web-0', container: '' };
const CONTAINER_DIRECTORY = { dev: 1, ino: 2 };

/** `hours` archives of 10 MiB, one an hour from `fromHour`, oldest first. */
const archivesOf = (identity: ArchiveIdentity, hours: readonly number[]): ArchiveRecord[] =>
  hours.map((hour) => archiveRecord(identity, { timestamp: new Date(Date.parse('2026-01-01T00:00:00Z') + hour * 3_600_000).toISOString().replace('.000', ''), size: 10 * MiB }));
const used = (percent: number): DiskStats => ({ sizeBytes: 100 * MiB, freeBytes: (100 - percent) * MiB, availBytes: (100 - percent) * MiB });
const policy = policyOf({ globalPolicy: { maxCheckpointsPerContainer: 0 }, diskPressure: { highThresholdPercent: 80, lowThresholdPercent: 60, keepNewestPerContainer: 1 } });

interface Setup {
  readonly containers: readonly ArchiveRecord[];
  readonly pods: readonly ArchiveRecord[];
  readonly containerDisk: DiskStats;
  readonly podDisk?: DiskStats;
  readonly podDevice: number;
  /** Undefined: nothing of the pod directory may be deleted (objects unknown). */
  readonly podArchivesKnown?: boolean;
  readonly containerStatus?: Partial<InventoryStatus>;
  /** The pod directory's first scan is running while this says so. */
  readonly podScanning?: () => boolean;
  readonly now?: () => number;
  /** File names PodCheckpoint objects reference, as the pod source says at each call. */
  readonly referenced?: () => ReadonlySet<string>;
  /** Runs as the container directory's deletions are carried out. */
  readonly onContainerExecute?: () => void;
}

function setup(s: Setup) {
  const index = createArchiveIndex();
  for (const record of s.containers) index.add(record);
  const calls = { containerStatfs: 0, podStatfs: 0, refreshed: [] as string[] };
  const containerPlans: RetentionPlan[] = [];
  const podPlans: RetentionPlan[] = [];
  const podDirectory = { dev: s.podDevice, ino: 77 };
  const podSource: PodPressureSource = {
    device: () => s.podDevice,
    pending: () => s.podScanning?.() ?? false,
    archives: () => (s.podArchivesKnown === false ? undefined : { archives: s.pods, alreadyPlanned: new Set(), referenced: s.referenced?.() ?? new Set(), directoryIdentity: podDirectory }),
    diskStats: async () => {
      calls.podStatfs += 1;
      if (s.podDisk === undefined) throw new Error('the pod filesystem is not looked at when it is the container directory\'s');
      return s.podDisk;
    },
    execute: async (plan): Promise<ExecutionResult> => {
      podPlans.push(plan);
      const outcomes = plan.deletions.map((deletion) => ({ deletion, outcome: 'deleted' as const, bytes: deletion.fingerprint.size }));
      return { dryRun: false, outcomes, deleted: outcomes.length, wouldDelete: 0, skipped: 0, failed: 0, bytes: outcomes.reduce((sum, o) => sum + o.bytes, 0) };
    },
    refresh: async (fileNames) => {
      calls.refreshed.push(...fileNames);
    },
  };
  const deps: RetentionRunnerDeps = {
    inventory: { index: () => index, status: () => inventoryStatus(index, [], { directoryIdentity: CONTAINER_DIRECTORY, ...s.containerStatus }) },
    policy: () => policy,
    policiesReady: () => true,
    resolveOwners: async () => () => ({ state: 'alive' }),
    diskStats: async () => {
      calls.containerStatfs += 1;
      return s.containerDisk;
    },
    execute: async (plan) => {
      containerPlans.push(plan);
      s.onContainerExecute?.();
    },
    metrics: { observer: { onDeleted: () => undefined, onError: () => undefined }, recordError: () => undefined },
    logger: pino({ level: 'silent' }),
    now: s.now ?? (() => NOW),
    ownerRefreshMs: 0,
    podArchives: podSource,
  };
  return { runner: createRetentionRunner(deps), calls, containerPlans, podPlans, podDirectory };
}

const names = (records: readonly ArchiveRecord[]): string[] => records.map((r) => r.fileName);
const planned = (plans: readonly RetentionPlan[]): string[] => plans.flatMap((p) => p.deletions.map((d) => d.fileName));

describe('retention runner: disk pressure with a pod checkpoint directory', () => {
  it('on the container directory\'s device: one plan over both, one statfs, each directory\'s deletions to its own executor', async () => {
    const containers = archivesOf(api, [0, 2, 4]);
    const pods = archivesOf(web, [1, 3, 5]);
    const { runner, calls, containerPlans, podPlans, podDirectory } = setup({ containers, pods, containerDisk: used(90), podDevice: CONTAINER_DIRECTORY.dev });
    await runner.trigger();
    // More than 30 MiB: four archives, oldest first across both directories; the newest of each stay.
    expect(planned(containerPlans)).toEqual(names(containers.slice(0, 2)));
    expect(planned(podPlans)).toEqual(names(pods.slice(0, 2)));
    expect(containerPlans[0]!.directoryIdentity).toEqual(CONTAINER_DIRECTORY);
    expect(podPlans[0]!.directoryIdentity).toEqual(podDirectory);
    expect(calls).toEqual({ containerStatfs: 1, podStatfs: 0, refreshed: names(pods.slice(0, 2)) });
    // The plan in force and the run's record show them like the container archives' deletions.
    expect(runner.lastPlan()!.deletions.map((d) => d.fileName).sort()).toEqual([...names(containers.slice(0, 2)), ...names(pods.slice(0, 2))].sort());
    expect(runner.history().recentDeletions.map((d) => [d.fileName, d.reason, d.pod, d.container])).toEqual(names(pods.slice(0, 2)).map((n) => [n, 'disk_pressure', 'web-0', undefined]));
  });

  it('on another device: the pod archives get a pass of their own against that filesystem\'s usage', async () => {
    const containers = archivesOf(api, [0, 2, 4]);
    const pods = archivesOf(web, [1, 3, 5]);
    // The container filesystem is fine; the pod one is at 90%.
    const { runner, calls, containerPlans, podPlans } = setup({ containers, pods, containerDisk: used(50), podDisk: used(90), podDevice: 9 });
    await runner.trigger();
    expect(containerPlans).toEqual([]);
    // Against its own 90%: more than 30 MiB, but only two pod archives may go (the newest stays).
    expect(planned(podPlans)).toEqual(names(pods.slice(0, 2)));
    expect(podPlans[0]!.deletions[0]!.detail).toMatch(/^pod checkpoint directory's filesystem is 90\.0% used/);
    expect(calls.containerStatfs).toBe(1);
    expect(calls.podStatfs).toBe(1);
  });

  it('does not take a pod archive that an object came to reference while the container deletions ran', async () => {
    const containers = archivesOf(api, [0, 2, 4]);
    const pods = archivesOf(web, [1, 3, 5]);
    let referenced: ReadonlySet<string> = new Set();
    const { runner, containerPlans, podPlans } = setup({
      containers,
      pods,
      containerDisk: used(90),
      podDevice: CONTAINER_DIRECTORY.dev,
      referenced: () => referenced,
      // With --offload-to the container deletions can take minutes: an object points at the oldest pod archive meanwhile.
      onContainerExecute: () => {
        referenced = new Set([pods[0]!.fileName]);
      },
    });
    await runner.trigger();
    expect(planned(containerPlans)).toEqual(names(containers.slice(0, 2)));
    // Planned before the reference, the oldest pod archive is not deleted by that plan; the next one is.
    expect(planned(podPlans)).toEqual(names(pods.slice(1, 2)));
  });

  it('on another device: container pressure leaves the pod archives alone', async () => {
    const containers = archivesOf(api, [0, 2, 4]);
    const pods = archivesOf(web, [1, 3, 5]);
    const { runner, containerPlans, podPlans } = setup({ containers, pods, containerDisk: used(90), podDisk: used(50), podDevice: 9 });
    await runner.trigger();
    expect(planned(containerPlans)).toEqual(names(containers.slice(0, 2)));
    expect(podPlans).toEqual([]);
  });

  it('takes nothing of the pod directory while its archives may not be deleted (the PodCheckpoint objects unknown)', async () => {
    const containers = archivesOf(api, [0, 2, 4]);
    const pods = archivesOf(web, [1, 3, 5]);
    const { runner, containerPlans, podPlans } = setup({ containers, pods, containerDisk: used(99), podDevice: CONTAINER_DIRECTORY.dev, podArchivesKnown: false });
    await runner.trigger();
    expect(planned(containerPlans)).toEqual(names(containers.slice(0, 2)));
    expect(podPlans).toEqual([]);
  });

  it('a change of the pod directory asks for a run that plans no namespace, only disk pressure', async () => {
    const containers = archivesOf(api, [0, 2]);
    const pods = archivesOf(web, [1, 3, 5]);
    const { runner, podPlans } = setup({ containers, pods, containerDisk: used(85), podDevice: CONTAINER_DIRECTORY.dev });
    await runner.trigger();
    const before = runner.work();
    runner.podArchivesChanged();
    await runner.settled();
    const after = runner.work();
    expect(after.scopedRuns).toBe(before.scopedRuns + 1);
    expect(after.fullRuns).toBe(before.fullRuns);
    // One planner call: the disk-pressure pass, on the two container archives and the three pod archives.
    expect(after.planCalls).toBe(before.planCalls + 1);
    expect(after.archivesPlanned).toBe(before.archivesPlanned + 5);
    expect(podPlans.length).toBeGreaterThan(0);
  });

  it('on one filesystem, waits for the pod directory\'s first scan, and no longer than POD_SCAN_WAIT_MS', async () => {
    const containers = archivesOf(api, [0, 2, 4]);
    const pods = archivesOf(web, [1, 3, 5]);
    let scanning = true;
    let nowMs = NOW;
    const { runner, containerPlans, podPlans } = setup({ containers, pods, containerDisk: used(90), podDevice: CONTAINER_DIRECTORY.dev, podScanning: () => scanning, now: () => nowMs });
    await runner.trigger();
    // Planned now, the container archives would go in place of the older pod archives not listed yet.
    expect(containerPlans).toEqual([]);
    scanning = false;
    runner.podArchivesChanged();
    await runner.settled();
    expect(planned(containerPlans)).toEqual(names(containers.slice(0, 2)));
    expect(planned(podPlans)).toEqual(names(pods.slice(0, 2)));

    // A scan that never ends holds the filesystem's plan for POD_SCAN_WAIT_MS at most.
    const stuck = setup({ containers, pods, containerDisk: used(90), podDevice: CONTAINER_DIRECTORY.dev, podScanning: () => true, now: () => nowMs, podArchivesKnown: false });
    await stuck.runner.trigger();
    nowMs += POD_SCAN_WAIT_MS - 1;
    await stuck.runner.trigger();
    expect(stuck.containerPlans).toEqual([]);
    nowMs += 1;
    await stuck.runner.trigger();
    expect(planned(stuck.containerPlans)).toEqual(names(containers.slice(0, 2)));
  });

  it('with the container directory absent, the pod archives are still relieved against their own filesystem', async () => {
    const pods = archivesOf(web, [1, 3, 5]);
    const { runner, calls, containerPlans, podPlans } = setup({
      containers: [],
      pods,
      containerDisk: used(99),
      podDisk: used(90),
      podDevice: CONTAINER_DIRECTORY.dev,
      containerStatus: { directoryPresent: false, directoryIdentity: undefined },
    });
    await runner.trigger();
    expect(containerPlans).toEqual([]);
    expect(calls.containerStatfs).toBe(0);
    expect(planned(podPlans)).toEqual(names(pods.slice(0, 2)));
  });
});
