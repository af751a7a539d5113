import { afterEach, describe, expect, it } from '@jest/globals';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { writeSamplePodArchive } from '../../../src/demo/sample-pod-archives.js';
import { createPodInventory } from '../../../src/daemon/pod-inventory-wiring.js';
import { createPodWiring, type PodWiring } from '../../../src/daemon/pod-wiring.js';
import type { ExecutionResult } from '../../../src/retention/execute.js';
import type { Inventory } from '../../../src/inventory/inventory.js';
import type { PlannedDeletion, RetentionObserver, RetentionPlan } from '../../../src/retention/types.js';
import { policyOf } from '../retention/builders.js';
import { waitUntil } from '../../support/wait.js';

/**
 * Pod retention and disk pressure both delete in the pod checkpoint directory (pod-wiring.ts), through
 * one executor, on real files watched by a real pod inventory.
 */
const silent = pino({ level: 'silent' });
const ARCHIVES = 16;

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function recordingObserver() {
  const deleted: string[] = [];
  const errors: string[] = [];
  const observer: RetentionObserver = {
    onDeleted: (deletion) => deleted.push(deletion.fileName),
    onError: (operation, deletion, error) => errors.push(`${operation} ${deletion.fileName}: ${String(error)}`),
  };
  return { observer, deleted, errors };
}

async function podDirectory(count: number): Promise<{ dir: string; names: string[] }> {
  const dir = await mkdtemp(path.join(tmpdir(), 'pod-wiring-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  const names: string[] = [];
  for (let i = 0; i < count; i += 1) {
    const timestamp = new Date(Date.UTC(2024, 0, 28, 0, i));
    names.push(await writeSamplePodArchive(dir, { namespace: 'shop', pod: 'web-0', containers: ['nginx'], timestamp, payloadBytes: 1024, mtime: timestamp }));
  }
  return { dir, names };
}

async function startedInventory(dir: string): Promise<Inventory> {
  const inventory = createPodInventory({ directory: dir, settleTimeMs: 10, resyncIntervalMs: 3_600_000, logger: silent });
  cleanups.push(() => inventory.stop());
  await inventory.start();
  await waitUntil(() => inventory.status().initialScanComplete, 'the first scan of the pod directory');
  return inventory;
}

function wire(dir: string, inventory: Inventory, observer: RetentionObserver, ready: () => boolean): PodWiring {
  const pod = createPodWiring({
    directory: dir,
    inventory,
    policy: () => policyOf({ globalPolicy: { maxCheckpointsPerPod: 1 } }),
    ready,
    dryRun: false,
    observer,
    intervalMs: 3_600_000,
    futureToleranceMs: undefined,
    logger: silent,
    now: () => Date.now(),
  });
  cleanups.push(() => pod.retention.stop());
  return pod;
}

/** What the node-wide disk-pressure pass would hand the pod directory: every archive of the pod but its newest, oldest first. */
function pressurePlan(inventory: Inventory): RetentionPlan {
  const snapshot = inventory.snapshot();
  const records = [...snapshot.archives].sort((a, b) => a.name.timestampMs - b.name.timestampMs).slice(0, -1);
  const deletions: PlannedDeletion[] = records.map((record) => ({
    fileName: record.fileName,
    fingerprint: record.fingerprint,
    identity: record.identity,
    reason: 'disk_pressure',
    limitValue: undefined,
    scope: { level: 'node' },
    policySource: 'test',
    detail: 'disk pressure',
  }));
  return { deletions, unsatisfiable: [], effectiveLimits: [], ...(snapshot.directoryIdentity !== undefined ? { directoryIdentity: snapshot.directoryIdentity } : {}) };
}

describe('the pod checkpoint directory wiring', () => {
  it('disk pressure and the pod limit taking the same archives at once unlink each once: the later plan finds them gone, no unlink error', async () => {
    const { dir, names } = await podDirectory(ARCHIVES);
    const inventory = await startedInventory(dir);
    const { observer, deleted, errors } = recordingObserver();
    let ready = false;
    const pod = wire(dir, inventory, observer, () => ready);
    const plan = pressurePlan(inventory);
    expect(plan.deletions).toHaveLength(ARCHIVES - 1);

    // Every plan handed to the pod directory's executor, in the order handed, with its result.
    const executions: { plan: RetentionPlan; result: Promise<ExecutionResult> }[] = [];
    const execute = pod.executor.execute.bind(pod.executor);
    pod.executor.execute = (handed) => {
      const result = execute(handed);
      executions.push({ plan: handed, result });
      return result;
    };

    // Both at once: disk pressure's plan, and a pod retention run whose limit picks the same archives.
    ready = true;
    const pressed = pod.pressure.execute(plan);
    pod.retention.request();
    const pressure = await pressed;
    await waitUntil(() => executions.some((e) => e.plan !== plan), 'the pod plan handed to the executor');
    await pod.executor.idle();

    // With an executor each, both plans pass their checks before either unlinks: unlink ENOENT errors.
    expect(errors).toEqual([]);
    const retained = executions.find((e) => e.plan !== plan);
    expect(retained?.plan.deletions.map((d) => [d.fileName, d.reason])).toEqual(names.slice(0, -1).map((name) => [name, 'count']));
    expect(executions[0]?.plan).toBe(plan);
    expect(pressure.deleted).toBe(ARCHIVES - 1);
    expect((await retained!.result).outcomes.map((o) => (o.outcome === 'skipped' ? o.reason : o.outcome))).toEqual(names.slice(0, -1).map(() => 'already gone'));
    expect([...deleted].sort()).toEqual(names.slice(0, -1).sort());
    expect(await readdir(dir)).toEqual([names[ARCHIVES - 1]]);
  });

  it('its one executor unlinks in the pod checkpoint directory only', async () => {
    const { dir, names } = await podDirectory(2);
    const elsewhere = await mkdtemp(path.join(tmpdir(), 'pod-wiring-other-'));
    cleanups.push(() => rm(elsewhere, { recursive: true, force: true }));
    for (const name of names) await writeFile(path.join(elsewhere, name), 'archive');
    const inventory = await startedInventory(dir);
    const { observer, deleted, errors } = recordingObserver();
    const pod = wire(dir, inventory, observer, () => false);
    const result = await pod.pressure.execute(pressurePlan(inventory));
    expect(result.deleted).toBe(1);
    expect(errors).toEqual([]);
    expect(deleted).toEqual([names[0]]);
    expect(await readdir(dir)).toEqual([names[1]]);
    expect((await readdir(elsewhere)).sort()).toEqual([...names].sort());
  });
});
