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
    // Only containers with orphans have the series.
    expect(sampleValue(await h.metrics(), 'checkpoint_archives_orphaned', alive)).toBeUndefined();

    fake.upsertPolicy('checkpoint-exporter', 'orphans', {
      globalPolicy: { retainOrphan: false, maxCheckpointsPerContainer: 2 },
      orphanGracePeriod: '0s',
    });
    await waitUntil(async () => sampleValue(await h.metrics(), 'checkpoint_archives', gone) === undefined, 'orphans deleted');
    await waitUntil(async () => sampleValue(await h.metrics(), 'checkpoint_archives', alive) === 2, 'cluster count limit enforced');
    for (const f of files.gone) expect(await exists(join(dir, f))).toBe(false);
    expect(await exists(join(dir, files.alive[0]!))).toBe(false);
    expect(await exists(join(dir, files.alive[2]!))).toBe(true);
    const policy = await h.json<{ sources: { cluster: { objects: string[] } } }>('api/v1/policy');
    expect(policy.sources.cluster.objects).toEqual(['CheckpointRestoreOperator checkpoint-exporter/orphans']);
    const text = await h.metrics();
    expect(sampleValue(text, 'checkpoint_retention_deletions_total', { namespace: 'shop-prod', reason: 'orphan' })).toBe(3);
    expect(sampleValue(text, 'checkpoint_retention_deletions_total', { namespace: 'shop-prod', reason: 'count' })).toBe(1);

    // The live pod goes away: its archives become orphans and go too.
    fake.deletePod('shop-prod', 'cart-0');
    await waitUntil(async () => sampleValue(await h.metrics(), 'checkpoint_archives', alive) === undefined, 'orphans of the deleted pod deleted');

    // Removing the policy object brings back the default (orphans retained).
    fake.deletePolicy('checkpoint-exporter', 'orphans');
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
    fake.upsertPolicy('checkpoint-exporter', 'orphans', { globalPolicy: { retainOrphan: false }, orphanGracePeriod: '0s' });
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
    expect(sampleValue(text, 'checkpoint_archives_orphaned', gone)).toBeUndefined();
    expect(sampleValue(text, 'checkpoint_retention_deletions_total', { namespace: 'shop-prod', reason: 'orphan' })).toBeUndefined();
    for (const f of [...files.gone, ...files.alive]) expect(await exists(join(dir, f))).toBe(true);
  });

  it('deletes nothing until the cluster policies have been listed, then applies them', async () => {
    const fake = await startFake();
    const { dir, kubeconfigPath } = await setup(fake);
    for (let i = 0; i < 12; i += 1) {
      await writeSampleArchive(dir, { ...alive, timestamp: new Date(Date.parse('2026-04-01T00:00:00Z') + i * 60_000), runtime: 'containerd' });
    }
    fake.upsertPolicy('checkpoint-exporter', 'keep-many', { globalPolicy: { maxCheckpointsPerContainer: 50 } });
    fake.setFault('policies:list', { kind: 'status', code: 503 });
    const h = await startHarness(dir, cleanups, { kubeconfigPath, resyncIntervalMs: 200 });
    await waitUntil(async () => (await fetch(`${h.exporter.url}readyz`)).status === 200, 'readiness');
    await waitUntil(async () => fake.countRequests('policies:list') >= 2, 'policy list retried');
    // The default (10 per container) would delete 5 of these 15; without the cluster policies nothing is planned.
    expect(sampleValue(await h.metrics(), 'checkpoint_archives', alive)).toBe(15);
    expect(sampleValue(await h.metrics(), 'checkpoint_retention_last_run_timestamp_seconds')).toBeUndefined();

    fake.setFault('policies:list', undefined);
    await waitUntil(async () => (sampleValue(await h.metrics(), 'checkpoint_retention_last_run_timestamp_seconds') ?? 0) > 0, 'retention ran');
    const text = await h.metrics();
    expect(sampleValue(text, 'checkpoint_archives', alive)).toBe(15);
    expect(sampleValue(text, 'checkpoint_retention_global_limit_archives', { level: 'container' })).toBe(50);
  });

  it('keeps the last valid version of a policy object while an edit of it is invalid', async () => {
    const fake = await startFake();
    const { dir, kubeconfigPath } = await setup(fake);
    for (let i = 0; i < 12; i += 1) {
      await writeSampleArchive(dir, { ...alive, timestamp: new Date(Date.parse('2026-04-01T00:00:00Z') + i * 60_000), runtime: 'containerd' });
    }
    fake.upsertPolicy('checkpoint-exporter', 'keep-many', { globalPolicy: { maxCheckpointsPerContainer: 50 } });
    const h = await startHarness(dir, cleanups, { kubeconfigPath, resyncIntervalMs: 200 });
    await waitUntil(async () => sampleValue(await h.metrics(), 'checkpoint_retention_global_limit_archives', { level: 'container' }) === 50, 'cluster limit');

    // The same namespace twice (the CRD's list map refuses it; an API server without the CRD's validation does not).
    fake.upsertPolicy('checkpoint-exporter', 'keep-many', {
      globalPolicy: { maxCheckpointsPerContainer: 50 },
      namespacePolicies: [{ namespace: 'x', maxCheckpoints: 1 }, { namespace: 'x', maxCheckpoints: 2 }],
    });
    type Described = { effective: unknown; sources: { cluster: { objects: string[]; rejected: { source: string; keptLastValid: boolean }[] } } };
    await waitUntil(async () => (await h.json<Described>('api/v1/policy')).sources.cluster.rejected.length === 1, 'edit rejected');
    const described = await h.json<Described>('api/v1/policy');
    expect(described.sources.cluster.rejected[0]).toMatchObject({ source: 'CheckpointRestoreOperator checkpoint-exporter/keep-many', keptLastValid: true });
    expect(described.sources.cluster.objects).toEqual(['CheckpointRestoreOperator checkpoint-exporter/keep-many']);
    const runs = new Set<number>();
    await waitUntil(async () => {
      runs.add(sampleValue(await h.metrics(), 'checkpoint_retention_last_run_timestamp_seconds') ?? 0);
      return runs.size >= 3;
    }, 'retention runs after the bad edit');
    expect(sampleValue(await h.metrics(), 'checkpoint_archives', alive)).toBe(15);
    expect(sampleValue(await h.metrics(), 'checkpoint_retention_global_limit_archives', { level: 'container' })).toBe(50);
  });

  it('deletes the archives of a deleted pod only after the grace period', async () => {
    const fake = await startFake();
    const { dir, kubeconfigPath, files } = await setup(fake);
    fake.upsertPolicy('checkpoint-exporter', 'orphans', { globalPolicy: { retainOrphan: false }, orphanGracePeriod: '4s' });
    const h = await startHarness(dir, cleanups, { kubeconfigPath, resyncIntervalMs: 200 });
    // cart-1 never existed: its archives go after 4 s of being known orphans; cart-0's stay while it lives.
    await waitUntil(async () => sampleValue(await h.metrics(), 'checkpoint_archives_orphaned', gone) === 3, 'orphans seen');
    for (const f of files.gone) expect(await exists(join(dir, f))).toBe(true);
    await waitUntil(async () => sampleValue(await h.metrics(), 'checkpoint_archives', gone) === undefined, 'orphans deleted after the grace period');
    expect(sampleValue(await h.metrics(), 'checkpoint_archives', alive)).toBe(3);

    fake.deletePod('shop-prod', 'cart-0');
    await waitUntil(async () => sampleValue(await h.metrics(), 'checkpoint_archives_orphaned', alive) === 3, 'deleted pod seen');
    for (const f of files.alive) expect(await exists(join(dir, f))).toBe(true);
    await waitUntil(async () => sampleValue(await h.metrics(), 'checkpoint_archives', alive) === undefined, 'its archives deleted after the grace period');
    expect(sampleValue(await h.metrics(), 'checkpoint_retention_deletions_total', { namespace: 'shop-prod', reason: 'orphan' })).toBe(6);
  });
});
