import { afterEach, describe, expect, it } from '@jest/globals';
import { pino } from 'pino';
import type { ArchiveIdentity } from '../../src/archive/types.js';
import { realDelay } from '../../src/kubernetes/backoff.js';
import { createPodView, type PodView } from '../../src/kubernetes/pod-view.js';
import { startFakeApiServer, type FakeApiServer } from '../support/fake-apiserver.js';
import { waitUntil } from '../support/wait.js';

/**
 * The pod view's answers for pod-level archives (KEP-5823): the owner is the pod itself, and its orphan
 * clock and lookups are apart from the container archives', so neither resets the other's grace periods.
 */
const NODE = 'node-a';
const pod = (namespace: string, name: string): ArchiveIdentity => ({ namespace, pod: name, container: '' });

let running: { fake: FakeApiServer; view: PodView } | undefined;
afterEach(async () => {
  await running?.view.stop();
  await running?.fake.close();
  running = undefined;
});

async function started(): Promise<{ fake: FakeApiServer; view: PodView; clock: { ms: number } }> {
  const fake = await startFakeApiServer();
  const clock = { ms: 1_000_000 };
  const view = createPodView({
    kubeConfig: fake.kubeConfig(),
    nodeName: NODE,
    logger: pino({ level: 'silent' }),
    now: () => clock.ms,
    monotonicNow: () => clock.ms,
    delay: (ms, signal) => realDelay(Math.min(ms, 20), signal),
    backoff: { initialMs: 100, maxMs: 800 },
    watchTimeoutSeconds: 1,
    watchGraceMs: 300,
    requestTimeoutMs: 1_000,
  });
  running = { fake, view };
  fake.upsertPod({ namespace: 'shop', name: 'web-0', nodeName: NODE, containers: ['nginx'] });
  fake.upsertPod({ namespace: 'shop', name: 'moved-0', nodeName: 'node-b', containers: ['app'] });
  view.start();
  await waitUntil(() => view.healthy(), 'pod view synced');
  return { fake, view, clock };
}

describe('pod view: owners of pod-level archives', () => {
  it('a pod that exists owns its pod archives whatever its containers; a gone one (404) is an orphan', async () => {
    const { view } = await started();
    const identities = [pod('shop', 'web-0'), pod('shop', 'moved-0'), pod('shop', 'ghost-0')];
    const lookup = await view.resolvePodOwners(identities);
    expect(identities.map((identity) => lookup(identity).state)).toEqual(['alive', 'alive', 'orphan']);
    // The container archives' answer for the same identity differs: no container is named ''.
    expect((await view.resolveOwners([pod('shop', 'web-0')]))(pod('shop', 'web-0')).state).toBe('orphan');
  });

  it('keeps its own orphan clock: container lookups in between do not restart it', async () => {
    const { view, clock } = await started();
    const ghost = pod('shop', 'ghost-0');
    const since = clock.ms;
    expect((await view.resolvePodOwners([ghost]))(ghost)).toEqual({ state: 'orphan', sinceMs: since });
    clock.ms += 3_000;
    // A container round that does not name the ghost pod: it would drop the pod's clock were it shared.
    await view.resolveOwners([{ namespace: 'shop', pod: 'web-0', container: 'nginx' }]);
    clock.ms += 1_000;
    expect((await view.resolvePodOwners([ghost]))(ghost)).toEqual({ state: 'orphan', sinceMs: since });
  });

  it('answers unknown while the view is not healthy, and starts the clock again after it', async () => {
    const { fake, view, clock } = await started();
    const ghost = pod('shop', 'ghost-0');
    expect((await view.resolvePodOwners([ghost]))(ghost)).toEqual({ state: 'orphan', sinceMs: 1_000_000 });
    fake.setFault('pods:watch', { kind: 'stall-after-headers' });
    fake.dropWatches();
    await waitUntil(() => !view.healthy(), 'the stalled watch is detected');
    clock.ms = 3_000_000;
    expect((await view.resolvePodOwners([ghost]))(ghost)).toMatchObject({ state: 'unknown' });
    fake.setFault('pods:watch', undefined);
    await waitUntil(() => view.healthy(), 'recovered once a watch completes');
    clock.ms = 4_000_000;
    expect((await view.resolvePodOwners([ghost]))(ghost)).toEqual({ state: 'orphan', sinceMs: 4_000_000 });
  });
});
