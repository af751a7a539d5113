import { describe, expect, it } from '@jest/globals';
import { createPodDiskPressure } from '../../../src/daemon/pod-disk-pressure.js';
import type { Inventory } from '../../../src/inventory/inventory.js';
import type { ArchiveRecord, InventoryChange, InventorySnapshot, InventoryStatus } from '../../../src/inventory/types.js';
import type { PodCheckpointObject, PodCheckpointView } from '../../../src/kubernetes/pod-checkpoint-watch.js';
import type { RetentionExecutor } from '../../../src/retention/execute.js';
import type { PlannedDeletion, RetentionPlan } from '../../../src/retention/types.js';
import { archive } from '../retention/builders.js';
import { inventorySnapshot } from '../../support/snapshots.js';
import { waitUntil } from '../../support/wait.js';

/** What disk pressure is given of the pod checkpoint directory (pod-disk-pressure.ts), on a stand-in inventory. */
type ObjectsState = ReturnType<PodCheckpointView['state']>;

const web = (minute: number): ArchiveRecord => archive({ namespace: 'shop', pod: 'web-0', container: '', minute });
const DIRECTORY = { dev: 7, ino: 8 };

function fakeInventory(archives: readonly ArchiveRecord[], state: { scanComplete: boolean }) {
  const listeners = new Set<(change: InventoryChange) => void>();
  const snapshot: InventorySnapshot = { ...inventorySnapshot(archives), directoryIdentity: DIRECTORY };
  const inventory = {
    status: () => ({ directoryPresent: true, directoryReadable: true, directoryIdentity: DIRECTORY, initialScanComplete: state.scanComplete }) as InventoryStatus,
    snapshot: () => ({ ...snapshot, initialScanComplete: state.scanComplete }),
    refresh: async () => undefined,
    subscribe(listener: (change: InventoryChange) => void) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  } as unknown as Inventory;
  return { inventory, emit: () => listeners.forEach((listener) => listener({} as InventoryChange)) };
}

const object = (name: string, sourcePodName: string, archiveFileName: string): PodCheckpointObject => ({ namespace: 'shop', name, sourcePodName, phase: 'Ready', archiveFileName });
/** The pod directory's executor is shared and tested with the wiring (pod-wiring.test.ts); nothing here executes. */
const unused: RetentionExecutor = {
  execute: () => Promise.reject(new Error('not executed in these tests')),
  idle: () => Promise.resolve(),
};

describe('the pod checkpoint directory as disk pressure sees it', () => {
  it('is pending while its first scan runs and until the PodCheckpoint objects have been listed once', () => {
    const scan = { scanComplete: false };
    let objects: ObjectsState = { kind: 'unknown' };
    const { inventory } = fakeInventory([web(0)], scan);
    const source = createPodDiskPressure({ directory: '/pods', inventory, executor: unused, podPlan: () => undefined, podCheckpoints: () => objects });
    expect(source.pending()).toBe(true);
    expect(source.archives()).toBeUndefined();
    scan.scanComplete = true;
    expect(source.pending()).toBe(true);
    expect(source.device()).toBe(DIRECTORY.dev);
    objects = { kind: 'known', objects: [] };
    expect(source.pending()).toBe(false);
    // Objects unknown again later (the API failing): no longer a reason to wait, but nothing of the directory may go.
    objects = { kind: 'unknown' };
    expect(source.pending()).toBe(false);
    expect(source.archives()).toBeUndefined();
  });

  it('without an API server the files alone decide: nothing to wait for, nothing referenced', () => {
    const { inventory } = fakeInventory([web(0), web(1)], { scanComplete: true });
    const source = createPodDiskPressure({ directory: '/pods', inventory, executor: unused, podPlan: () => undefined });
    expect(source.pending()).toBe(false);
    expect(source.archives()).toEqual({ archives: [web(0), web(1)], referenced: new Set(), alreadyPlanned: new Set(), directoryIdentity: DIRECTORY });
  });

  it('gives the referenced file names, leaves out archives whose object names another pod, and counts the pod plan in force', () => {
    const [referenced, disputed, planned, plain] = [web(0), web(1), web(2), web(3)];
    const { inventory } = fakeInventory([referenced!, disputed!, planned!, plain!], { scanComplete: true });
    const objects: ObjectsState = { kind: 'known', objects: [object('a', 'web-0', referenced!.fileName), object('b', 'web-9', disputed!.fileName)] };
    const podPlan: RetentionPlan = { deletions: [{ fileName: planned!.fileName } as PlannedDeletion], unsatisfiable: [], effectiveLimits: [] };
    const source = createPodDiskPressure({ directory: '/pods', inventory, executor: unused, podPlan: () => podPlan, podCheckpoints: () => objects });
    const given = source.archives();
    expect(given?.archives.map((r) => r.fileName)).toEqual([referenced!.fileName, planned!.fileName, plain!.fileName]);
    expect([...(given?.referenced ?? [])].sort()).toEqual([referenced!.fileName, disputed!.fileName].sort());
    expect([...(given?.alreadyPlanned ?? [])]).toEqual([planned!.fileName]);
  });

  it('tells its subscriber of each change of the directory and of the objects becoming known, until unsubscribed', async () => {
    let objects: ObjectsState = { kind: 'unknown' };
    const { inventory, emit } = fakeInventory([web(0)], { scanComplete: true });
    const source = createPodDiskPressure({ directory: '/pods', inventory, executor: unused, podPlan: () => undefined, podCheckpoints: () => objects, objectsPollMs: 10 });
    let calls = 0;
    const unsubscribe = source.subscribe(() => (calls += 1));
    emit();
    expect(calls).toBe(1);
    objects = { kind: 'known', objects: [] };
    await waitUntil(async () => calls === 2, 'the objects becoming known is told');
    unsubscribe();
    emit();
    expect(calls).toBe(2);
  });
});
