import { afterEach, describe, expect, it } from '@jest/globals';
import { access, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { writeSamplePodArchive } from '../../../src/demo/sample-pod-archives.js';
import { createPodInventory } from '../../../src/daemon/pod-inventory-wiring.js';
import { createPodRetention } from '../../../src/daemon/pod-retention.js';
import type { PodCheckpointView } from '../../../src/kubernetes/pod-checkpoint-watch.js';
import { createRetentionExecutor } from '../../../src/retention/execute.js';
import type { OwnerLookup } from '../../../src/retention/types.js';
import { policyOf } from '../retention/builders.js';
import { waitUntil } from '../../support/wait.js';

/**
 * Pod retention looks the pods up over the network between planning's inputs and the unlinks; the
 * PodCheckpoint objects can change meanwhile. On real files watched by a real pod inventory.
 */
const silent = pino({ level: 'silent' });
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const exists = (file: string): Promise<boolean> => access(file).then(() => true, () => false);

describe('pod retention after the pod lookup', () => {
  it('does not delete an archive a PodCheckpoint object came to reference while the pods were looked up', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'pod-recheck-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const names: string[] = [];
    for (let i = 0; i < 4; i += 1) {
      const timestamp = new Date(Date.UTC(2024, 0, 28, 0, i));
      names.push(await writeSamplePodArchive(dir, { namespace: 'shop', pod: 'web-0', containers: ['nginx'], timestamp, payloadBytes: 1024, mtime: timestamp }));
    }
    const inventory = createPodInventory({ directory: dir, settleTimeMs: 10, resyncIntervalMs: 3_600_000, logger: silent });
    cleanups.push(() => inventory.stop());
    await inventory.start();
    await waitUntil(() => inventory.status().initialScanComplete && inventory.snapshot().archives.length === 4, 'the first scan');

    let objects: ReturnType<PodCheckpointView['state']> = { kind: 'known', objects: [] };
    const deleted: string[] = [];
    let lookups = 0;
    const retention = createPodRetention({
      directory: dir,
      inventory,
      // Two per pod, and orphans may go: the pods of unreferenced archives are looked up first.
      policy: (() => {
        const policy = policyOf({ globalPolicy: { maxCheckpointsPerPod: 2, retainOrphan: false } });
        return () => policy;
      })(),
      ready: () => true,
      dryRun: false,
      executor: createRetentionExecutor({ directory: dir, dryRun: false, logger: silent, observer: { onDeleted: (d) => deleted.push(d.fileName), onError: () => undefined } }),
      intervalMs: 3_600_000,
      futureToleranceMs: undefined,
      logger: silent,
      now: () => Date.now(),
      podCheckpoints: () => objects,
      podOwners: async (): Promise<OwnerLookup> => {
        lookups += 1;
        // While the pods are looked up, an object comes to point at the oldest archive: a restore the
        // API now offers, which the plan made before wanted to delete by the count.
        objects = { kind: 'known', objects: [{ namespace: 'shop', name: 'web-0-cp', sourcePodName: 'web-0', phase: 'Ready', archiveFileName: names[0] }] };
        return () => ({ state: 'alive' });
      },
    });
    retention.request();
    await waitUntil(() => deleted.length > 0, 'a deletion');
    await retention.stop();

    expect(lookups).toBeGreaterThanOrEqual(1);
    // The one planned before the reference and still unreferenced went; the referenced one stayed.
    expect(deleted).toContain(names[1]);
    expect(deleted).not.toContain(names[0]);
    expect(await exists(path.join(dir, names[0] ?? ''))).toBe(true);
  });
});
