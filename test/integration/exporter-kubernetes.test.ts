import { afterEach, describe, expect, it } from '@jest/globals';
import { lstat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeSampleArchive } from '../../src/demo/sample-archives.js';
import { startHarness, tempDirectory } from '../support/exporter-harness.js';
import { startFakeApiServer, type FakeApiServer } from '../support/fake-apiserver.js';
import { sampleValue } from '../support/metrics-text.js';
import { waitUntil } from '../support/wait.js';

/**
 * The exporter wired to an in-process fake API server (real list/watch wire format, real client):
 * cluster policies apply live, orphans are deleted only on certainty, Events are emitted.
 */
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const alive = { namespace: 'shop-prod', pod: 'cart-0', container: 'cart-api' };
const gone = { namespace: 'shop-prod', pod: 'cart-1', container: 'cart-api' };

async function setup(fake: FakeApiServer): Promise<{ dir: string; kubeconfigPath: string; files: { alive: string[]; gone: string[] } }> {
  const dir = await tempDirectory(cleanups);
  const configDir = await tempDirectory(cleanups);
  const kubeconfigPath = join(configDir, 'kubeconfig');
  await writeFile(kubeconfigPath, fake.kubeconfigYaml());
  fake.upsertPod({ namespace: 'shop-prod', name: 'cart-0', nodeName: 'node-a', containers: ['cart-api'] });
  const files = { alive: [] as string[], gone: [] as string[] };
  for (let i = 0; i < 3; i += 1) {
    const timestamp = new Date(Date.parse('2026-03-01T00:00:00Z') + i * 3_600_000);
    files.alive.push(await writeSampleArchive(dir, { ...alive, timestamp, runtime: 'containerd' }));
    files.gone.push(await writeSampleArchive(dir, { ...gone, timestamp, runtime: 'containerd' }));
  }
  return { dir, kubeconfigPath, files };
}

const exists = (path: string): Promise<boolean> =>
  lstat(path).then(
    () => true,
    () => false,
  );

async function startFake(): Promise<FakeApiServer> {
  const fake = await startFakeApiServer();
  cleanups.push(() => fake.close());
  return fake;
}

describe('exporter with the Kubernetes API', () => {
  it('applies a cluster policy live, deletes orphans of a deleted pod, and emits Events', async () => {
    const fake = await startFake();
    const { dir, kubeconfigPath, files } = await setup(fake);
    const h = await startHarness(dir, cleanups, { kubeconfigPath, resyncIntervalMs: 300 });
    await waitUntil(async () => sampleValue(await h.metrics(), 'checkpoint_kubernetes_api_up') === 1, 'API view healthy');
    // Default policy: nothing is orphan-deleted (retainOrphan defaults to true), orphans are only reported.
    await waitUntil(async () => sampleValue(await h.metrics(), 'checkpoint_archives_orphaned', gone) === 3, 'orphans reported');
    expect(sampleValue(await h.metrics(), 'checkpoint_archives_orphaned', alive)).toBe(0);

    fake.upsertPolicy('ops', 'orphans', {
      globalPolicy: { retainOrphan: false, maxCheckpointsPerContainer: 2 },
      orphanGracePeriod: '0s',
    });
    await waitUntil(async () => sampleValue(await h.metrics(), 'checkpoint_archives', gone) === undefined, 'orphans deleted');
    await waitUntil(async () => sampleValue(await h.metrics(), 'checkpoint_archives', alive) === 2, 'cluster count limit enforced');
    for (const f of files.gone) expect(await exists(join(dir, f))).toBe(false);
    expect(await exists(join(dir, files.alive[0]!))).toBe(false);
    expect(await exists(join(dir, files.alive[2]!))).toBe(true);
    const policy = await h.json<{ sources: { cluster: { objects: string[] } } }>('api/v1/policy');
    expect(policy.sources.cluster.objects).toEqual(['CheckpointRestoreOperator ops/orphans']);
    const text = await h.metrics();
    expect(sampleValue(text, 'checkpoint_retention_deletions_total', { namespace: 'shop-prod', reason: 'orphan' })).toBe(3);
    expect(sampleValue(text, 'checkpoint_retention_deletions_total', { namespace: 'shop-prod', reason: 'count' })).toBe(1);

    // The live pod goes away: its archives become orphans and go too.
    fake.deletePod('shop-prod', 'cart-0');
    await waitUntil(async () => sampleValue(await h.metrics(), 'checkpoint_archives', alive) === undefined, 'orphans of the deleted pod deleted');

    // Removing the policy object brings back the default (orphans retained).
    fake.deletePolicy('ops', 'orphans');
    await waitUntil(async () => (await h.json<{ sources: { cluster: { objects: string[] } } }>('api/v1/policy')).sources.cluster.objects.length === 0, 'policy removed');

    await h.exporter.stop();
    const events = fake.events();
    expect(events.length).toBeGreaterThan(0);
    expect(events.every((e) => e['reason'] === 'CheckpointArchiveDeleted')).toBe(true);
    // Aggregated: fewer Events than deletions.
    expect(events.length).toBeLessThan(7);
  });

  it.each([
    ['403 on the pod list', { kind: 'status', code: 403 } as const],
    ['500 on the pod list', { kind: 'status', code: 500 } as const],
    ['a stalled pod list', { kind: 'stall-before-headers' } as const],
  ])('deletes no orphan while the API view is unhealthy: %s', async (_name, fault) => {
    const fake = await startFake();
    fake.setFault('pods:list', fault);
    const { dir, kubeconfigPath, files } = await setup(fake);
    fake.upsertPolicy('ops', 'orphans', { globalPolicy: { retainOrphan: false }, orphanGracePeriod: '0s' });
    const h = await startHarness(dir, cleanups, { kubeconfigPath, resyncIntervalMs: 200 });
    await waitUntil(
      async () => (await h.json<{ sources: { cluster: { objects: string[] } } }>('api/v1/policy')).sources.cluster.objects.length === 1,
      'cluster policy applied',
    );
    // Several retention runs complete while the view is unhealthy.
    const runs = new Set<number>();
    await waitUntil(async () => {
      const last = sampleValue(await h.metrics(), 'checkpoint_retention_last_run_timestamp_seconds');
      if (last !== undefined) runs.add(last);
      return runs.size >= 3;
    }, 'three retention runs');
    const text = await h.metrics();
    expect(sampleValue(text, 'checkpoint_kubernetes_api_up')).toBe(0);
    expect(sampleValue(text, 'checkpoint_archives_orphaned', gone)).toBe(0);
    expect(sampleValue(text, 'checkpoint_retention_deletions_total', { namespace: 'shop-prod', reason: 'orphan' })).toBeUndefined();
    for (const f of [...files.gone, ...files.alive]) expect(await exists(join(dir, f))).toBe(true);
  });
});
