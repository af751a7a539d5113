import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { pino } from 'pino';
import type { ArchiveIdentity } from '../../src/archive/types.js';
import { realDelay, type DelayFn } from '../../src/kubernetes/backoff.js';
import { createPodView, type PodView, type PodViewOptions } from '../../src/kubernetes/pod-view.js';
import { startFakeApiServer, type Fault, type FakeApiServer } from '../support/fake-apiserver.js';
import { waitUntil as waitFor } from '../support/wait.js';

const NODE = 'node-a';
const logger = pino({ level: 'silent' });

const id = (namespace: string, pod: string, container: string): ArchiveIdentity => ({ namespace, pod, container });

interface Harness {
  readonly fake: FakeApiServer;
  readonly view: PodView;
  readonly clock: { ms: number };
  readonly delays: number[];
}

let harness: Harness | undefined;

async function startHarness(overrides: Partial<PodViewOptions> = {}, fake?: FakeApiServer): Promise<Harness> {
  const server = fake ?? (await startFakeApiServer());
  const clock = { ms: 1_000_000 };
  const delays: number[] = [];
  // Records what the view asked for; waits only a token amount so retries stay quick but never spin.
  const delay: DelayFn = (ms, signal) => {
    delays.push(ms);
    return realDelay(Math.min(ms, 20), signal);
  };
  const view = createPodView({
    kubeConfig: server.kubeConfig(),
    nodeName: NODE,
    logger,
    now: () => clock.ms,
    // The same clock for both unless a test steps the wall clock on its own.
    monotonicNow: () => clock.ms,
    delay,
    backoff: { initialMs: 100, maxMs: 800 },
    watchTimeoutSeconds: 1,
    watchGraceMs: 300,
    requestTimeoutMs: 1_000,
    ...overrides,
  });
  harness = { fake: server, view, clock, delays };
  return harness;
}

async function started(overrides: Partial<PodViewOptions> = {}): Promise<Harness> {
  const h = await startHarness(overrides);
  h.view.start();
  await waitFor(() => h.view.healthy(), 'pod view synced');
  return h;
}

async function stateOf(view: PodView, identity: ArchiveIdentity): Promise<string> {
  const lookup = await view.resolveOwners([identity]);
  return lookup(identity).state;
}

afterEach(async () => {
  if (!harness) return;
  await harness.view.stop();
  await harness.fake.close();
  harness = undefined;
});

describe('pod view: this node', () => {
  it('lists and watches only this node, with a watch timeout and bookmarks', async () => {
    const { fake } = await started();
    const list = fake.requests.find((r) => r.route === 'pods:list');
    expect(list?.query['fieldSelector']).toBe(`spec.nodeName=${NODE}`);
    await waitFor(() => fake.countRequests('pods:watch') > 0, 'watch request');
    const watch = fake.requests.find((r) => r.route === 'pods:watch');
    expect(watch?.query).toMatchObject({ fieldSelector: `spec.nodeName=${NODE}`, timeoutSeconds: '1', allowWatchBookmarks: 'true' });
    expect(watch?.query['resourceVersion']).toMatch(/^[0-9]+$/);
  });

  it('is not healthy and answers unknown before the first list', async () => {
    const h = await startHarness();
    h.fake.setFault('pods:list', { kind: 'status', code: 500 });
    expect(h.view.healthy()).toBe(false);
    const lookup = await h.view.resolveOwners([id('shop', 'web-0', 'nginx')]);
    expect(lookup(id('shop', 'web-0', 'nginx'))).toMatchObject({ state: 'unknown' });
  });

  it('sees a running pod as alive and a deleted pod as orphan since the first round that saw it gone', async () => {
    const h = await startHarness();
    h.fake.upsertPod({ namespace: 'shop', name: 'web-0', nodeName: NODE, containers: ['nginx'] });
    h.view.start();
    await waitFor(() => h.view.healthy(), 'synced');
    const nginx = id('shop', 'web-0', 'nginx');
    expect(await stateOf(h.view, nginx)).toBe('alive');

    h.fake.deletePod('shop', 'web-0');
    h.clock.ms = 2_000_000;
    await waitFor(async () => (await stateOf(h.view, nginx)) === 'orphan', 'pod deletion seen');
    h.clock.ms = 2_500_000;
    const later = await h.view.resolveOwners([nginx]);
    expect(later(nginx)).toEqual({ state: 'orphan', sinceMs: 2_000_000 });
    // Gone from the node and a GET says 404: that is what made it an orphan.
    expect(h.fake.countRequests('pods:get')).toBeGreaterThan(0);
  });

  it('a StatefulSet pod recreated under the same name owns its predecessor archives', async () => {
    const h = await started();
    h.fake.upsertPod({ namespace: 'db', name: 'pg-0', nodeName: NODE, containers: ['postgres'] });
    h.fake.deletePod('db', 'pg-0');
    h.fake.upsertPod({ namespace: 'db', name: 'pg-0', nodeName: NODE, containers: ['postgres'] });
    await waitFor(async () => (await stateOf(h.view, id('db', 'pg-0', 'postgres'))) === 'alive', 'recreated pod alive');
  });

  it.each([
    ['a regular container', { containers: ['app', 'sidecar'] }, 'sidecar', 'alive'],
    ['an init container', { containers: ['app'], initContainers: ['migrate'] }, 'migrate', 'alive'],
    ['an ephemeral container', { containers: ['app'], ephemeralContainers: ['debugger'] }, 'debugger', 'alive'],
    ['a container no longer in the spec', { containers: ['app'] }, 'sidecar', 'orphan'],
  ] as const)('%s', async (_name, spec, container, expected) => {
    const h = await startHarness();
    h.fake.upsertPod({ namespace: 'shop', name: 'api-1', nodeName: NODE, containers: ['app', 'sidecar'] });
    h.fake.upsertPod({ namespace: 'shop', name: 'api-1', nodeName: NODE, ...spec });
    h.view.start();
    await waitFor(() => h.view.healthy(), 'synced');
    expect(await stateOf(h.view, id('shop', 'api-1', container))).toBe(expected);
    // Judged from the node cache: no GET for a pod the watch already has.
    expect(h.fake.countRequests('pods:get')).toBe(0);
  });
});

describe('pod view: pods not on this node', () => {
  it('finds a pod on another node by GET, and caches the answer for the TTL', async () => {
    const h = await started({ lookupTtlMs: 60_000 });
    h.fake.upsertPod({ namespace: 'shop', name: 'moved-0', nodeName: 'node-b', containers: ['app'] });
    const app = id('shop', 'moved-0', 'app');
    expect(await stateOf(h.view, app)).toBe('alive');
    expect(await stateOf(h.view, app)).toBe('alive');
    expect(await stateOf(h.view, id('shop', 'moved-0', 'gone-container'))).toBe('orphan');
    expect(h.fake.countRequests('pods:get')).toBe(1);
    h.clock.ms += 60_001;
    expect(await stateOf(h.view, app)).toBe('alive');
    expect(h.fake.countRequests('pods:get')).toBe(2);
  });

  it('treats a 404 as gone, and keeps the orphan clock across cached rounds', async () => {
    const h = await started();
    const ghost = id('shop', 'ghost-0', 'app');
    const first = await h.view.resolveOwners([ghost]);
    expect(first(ghost)).toEqual({ state: 'orphan', sinceMs: h.clock.ms });
    const since = h.clock.ms;
    h.clock.ms += 4_000;
    const second = await h.view.resolveOwners([ghost]);
    expect(second(ghost)).toEqual({ state: 'orphan', sinceMs: since });
    expect(h.fake.countRequests('pods:get')).toBe(1);
  });

  it('reuses a 404 only briefly: a pod recreated on another node is alive once the gone TTL ends', async () => {
    const h = await started({ lookupTtlMs: 60_000, lookupGoneTtlMs: 5_000 });
    const postgres = id('shop', 'db-0', 'postgres');
    expect(await stateOf(h.view, postgres)).toBe('orphan');
    h.fake.upsertPod({ namespace: 'shop', name: 'db-0', nodeName: 'node-b', containers: ['postgres'] });
    h.clock.ms += 4_999;
    expect(await stateOf(h.view, postgres)).toBe('orphan');
    expect(h.fake.countRequests('pods:get')).toBe(1);
    h.clock.ms += 1;
    expect(await stateOf(h.view, postgres)).toBe('alive');
    expect(h.fake.countRequests('pods:get')).toBe(2);
  });

  it('by default a 404 is asked again within seconds, a found pod only after a minute', async () => {
    const h = await started();
    h.fake.upsertPod({ namespace: 'shop', name: 'moved-0', nodeName: 'node-b', containers: ['app'] });
    const moved = id('shop', 'moved-0', 'app');
    const ghost = id('shop', 'ghost-0', 'app');
    await h.view.resolveOwners([moved, ghost]);
    expect(h.fake.countRequests('pods:get')).toBe(2);
    h.clock.ms += 5_000;
    await h.view.resolveOwners([moved, ghost]);
    expect(h.fake.requests.filter((r) => r.route === 'pods:get').map((r) => r.path.split('/').at(-1))).toEqual(['moved-0', 'ghost-0', 'ghost-0']);
  });

  it.each([
    ['403 Forbidden', { kind: 'status', code: 403 }],
    ['500 Internal Error', { kind: 'status', code: 500 }],
    ['a dropped connection', { kind: 'drop' }],
    ['no answer within the request timeout', { kind: 'stall-before-headers' }],
  ] as const satisfies ReadonlyArray<readonly [string, Fault]>)('GET failing with %s means unknown for that pod only', async (_name, fault) => {
    const h = await started({ requestTimeoutMs: 300 });
    h.fake.upsertPod({ namespace: 'shop', name: 'local-0', nodeName: NODE, containers: ['app'] });
    await waitFor(async () => (await stateOf(h.view, id('shop', 'local-0', 'app'))) === 'alive', 'local pod');
    h.fake.setFault('pods:get', fault);
    const remote = id('shop', 'elsewhere-0', 'app');
    const lookup = await h.view.resolveOwners([remote, id('shop', 'local-0', 'app')]);
    expect(lookup(remote)).toMatchObject({ state: 'unknown' });
    expect(lookup(id('shop', 'local-0', 'app'))).toEqual({ state: 'alive' });
    expect(h.view.healthy()).toBe(true);
  });

  it('bounds GETs per resolve call and returns unknown for the rest', async () => {
    const h = await started({ maxLookupsPerResolve: 3, lookupConcurrency: 2 });
    const ghosts = Array.from({ length: 10 }, (_, i) => id('shop', `ghost-${i}`, 'app'));
    const lookup = await h.view.resolveOwners(ghosts);
    const states = ghosts.map((g) => lookup(g).state);
    expect(states.filter((s) => s === 'orphan')).toHaveLength(3);
    expect(states.filter((s) => s === 'unknown')).toHaveLength(7);
    expect(h.fake.countRequests('pods:get')).toBe(3);
    // The next cycle gets further: cached answers plus three new GETs.
    const next = await h.view.resolveOwners(ghosts);
    expect(ghosts.filter((g) => next(g).state === 'orphan')).toHaveLength(6);
    expect(h.fake.countRequests('pods:get')).toBe(6);
  });

  it('rotates the lookup budget: every owner is looked up within ceil(pods / budget) cycles, wherever it is in the list', async () => {
    // Gone answers expire at once, so the first pods of the list would take the whole budget every cycle.
    const h = await started({ maxLookupsPerResolve: 3, lookupConcurrency: 2, lookupGoneTtlMs: 0 });
    const ghosts = Array.from({ length: 10 }, (_, i) => id('shop', `ghost-${i}`, 'app'));
    const lookedUp = new Set<string>();
    for (let cycle = 0; cycle < Math.ceil(ghosts.length / 3); cycle += 1) {
      const lookup = await h.view.resolveOwners(ghosts);
      for (const ghost of ghosts) if (lookup(ghost).state === 'orphan') lookedUp.add(ghost.pod);
    }
    expect([...lookedUp].sort()).toEqual(ghosts.map((g) => g.pod).sort());
    expect(h.fake.countRequests('pods:get')).toBe(12);
  });

  it('knows the uid of a pod on the node and of one looked up by name', async () => {
    const h = await started();
    const local = h.fake.upsertPod({ namespace: 'shop', name: 'local-1', nodeName: NODE, containers: ['app'] });
    await waitFor(async () => h.view.uidOf('shop', 'local-1') !== undefined, 'uid from the watch');
    expect(h.view.uidOf('shop', 'local-1')).toBe(local.metadata.uid);
    const remote = h.fake.upsertPod({ namespace: 'shop', name: 'remote-0', nodeName: 'other-node', containers: ['app'] });
    await h.view.resolveOwners([id('shop', 'remote-0', 'app')]);
    expect(h.view.uidOf('shop', 'remote-0')).toBe(remote.metadata.uid);
    expect(h.view.uidOf('shop', 'never-seen')).toBeUndefined();
  });

  it('asks once per pod even when many archives name it', async () => {
    const h = await started();
    const archives = Array.from({ length: 20 }, (_, i) => id('shop', 'ghost-0', `c${i}`));
    const lookup = await h.view.resolveOwners(archives);
    expect(archives.every((a) => lookup(a).state === 'orphan')).toBe(true);
    expect(h.fake.countRequests('pods:get')).toBe(1);
  });

  it.each([
    ['forward an hour', 3_600_000],
    ['back an hour', -3_600_000],
  ])('a wall clock stepped %s does not count as time orphaned', async (_name, stepMs) => {
    const mono = { ms: 50_000 };
    const h = await started({ monotonicNow: () => mono.ms });
    const ghost = id('shop', 'ghost-0', 'app');
    const first = await h.view.resolveOwners([ghost]);
    expect(first(ghost)).toEqual({ state: 'orphan', sinceMs: h.clock.ms });

    h.clock.ms += stepMs + 5_000;
    mono.ms += 5_000;
    const second = await h.view.resolveOwners([ghost]);
    const owner = second(ghost);
    expect(owner.state).toBe('orphan');
    // What the planner computes: its wall-clock now minus sinceMs.
    expect(owner.state === 'orphan' ? h.clock.ms - owner.sinceMs : undefined).toBe(5_000);
  });

  it('a wall clock stepped back does not stretch the reuse of a 404', async () => {
    const mono = { ms: 50_000 };
    const h = await started({ monotonicNow: () => mono.ms, lookupGoneTtlMs: 5_000 });
    const ghost = id('shop', 'ghost-0', 'app');
    expect(await stateOf(h.view, ghost)).toBe('orphan');
    h.clock.ms -= 3_600_000;
    mono.ms += 5_000;
    h.fake.upsertPod({ namespace: 'shop', name: 'ghost-0', nodeName: 'node-b', containers: ['app'] });
    expect(await stateOf(h.view, ghost)).toBe('alive');
  });

  it('answers unknown for identities it was not asked about', async () => {
    const h = await started();
    const lookup = await h.view.resolveOwners([]);
    expect(lookup(id('shop', 'x', 'y'))).toMatchObject({ state: 'unknown' });
  });
});

describe('pod view: API trouble', () => {
  it.each([
    ['403 on list', 'pods:list', { kind: 'status', code: 403 }],
    ['500 on list', 'pods:list', { kind: 'status', code: 500 }],
    ['dropped list', 'pods:list', { kind: 'drop' }],
  ] as const)('%s from the start: unhealthy, owners unknown, then recovers', async (_name, route, fault) => {
    const h = await startHarness();
    h.fake.setFault(route, fault);
    h.fake.upsertPod({ namespace: 'shop', name: 'web-0', nodeName: NODE, containers: ['nginx'] });
    h.view.start();
    await waitFor(() => h.fake.countRequests('pods:list') >= 3, 'retries');
    expect(h.view.healthy()).toBe(false);
    const lookup = await h.view.resolveOwners([id('shop', 'ghost', 'app')]);
    expect(lookup(id('shop', 'ghost', 'app'))).toMatchObject({ state: 'unknown' });
    expect(h.fake.countRequests('pods:get')).toBe(0);
    h.fake.setFault(route, undefined);
    await waitFor(() => h.view.healthy(), 'recovered');
    expect(await stateOf(h.view, id('shop', 'web-0', 'nginx'))).toBe('alive');
  });

  it('backs off exponentially with a cap while the API is unreachable', async () => {
    const closed = await startFakeApiServer();
    const kubeConfig = closed.kubeConfig();
    await closed.close();
    const h = await startHarness({ kubeConfig, backoff: { initialMs: 100, maxMs: 800 } });
    h.view.start();
    await waitFor(() => h.delays.length >= 6, 'several retries');
    expect(h.view.healthy()).toBe(false);
    expect(h.delays.slice(0, 6)).toEqual([100, 200, 400, 800, 800, 800]);
    const lookup = await h.view.resolveOwners([id('shop', 'web-0', 'nginx')]);
    expect(lookup(id('shop', 'web-0', 'nginx'))).toMatchObject({ state: 'unknown', reason: expect.stringContaining('list failed') });
  });

  it.each([
    ['headers then silence', { kind: 'stall-after-headers' }],
    ['no answer at all', { kind: 'stall-before-headers' }],
  ] as const satisfies ReadonlyArray<readonly [string, Fault]>)(
    'a stalled watch (%s) turns unhealthy after its timeout and resets the orphan clock',
    async (_name, fault) => {
      const h = await started();
      const ghost = id('shop', 'ghost-0', 'app');
      const before = await h.view.resolveOwners([ghost]);
      expect(before(ghost)).toEqual({ state: 'orphan', sinceMs: 1_000_000 });

      h.fake.setFault('pods:watch', fault);
      h.fake.dropWatches();
      await waitFor(() => !h.view.healthy(), 'stall detected');
      h.clock.ms = 3_000_000;
      const during = await h.view.resolveOwners([ghost]);
      expect(during(ghost)).toMatchObject({ state: 'unknown' });
      // Relists keep succeeding, but the watch has not proven itself: still unhealthy.
      const listsBefore = h.fake.countRequests('pods:list');
      await waitFor(() => h.fake.countRequests('pods:list') > listsBefore, 'relist after the dead watch');
      expect(h.view.healthy()).toBe(false);

      h.fake.setFault('pods:watch', undefined);
      await waitFor(() => h.view.healthy(), 'recovered once a watch completes');
      h.clock.ms = 4_000_000;
      const after = await h.view.resolveOwners([ghost]);
      expect(after(ghost)).toEqual({ state: 'orphan', sinceMs: 4_000_000 });
    },
  );

  it.each([
    ['an ERROR event, with bookmarks', 'error-event', true],
    ['an ERROR event, without bookmarks', 'error-event', false],
    ['HTTP 410 on re-watch, with bookmarks', 'http', true],
    ['HTTP 410 on re-watch, without bookmarks', 'http', false],
  ] as const)('410 Gone via %s: relists and is healthy again with current data', async (_name, via, bookmarks) => {
    const h = await startHarness();
    h.fake.setBookmarksEnabled(bookmarks);
    h.fake.upsertPod({ namespace: 'shop', name: 'web-0', nodeName: NODE, containers: ['nginx'] });
    h.view.start();
    await waitFor(() => h.view.healthy() && h.fake.openWatches('pods:watch') === 1, 'watching');
    if (bookmarks) expect(h.fake.sendBookmarks()).toBe(1);
    const lists = h.fake.countRequests('pods:list');
    h.fake.expireResourceVersions(via);
    if (via === 'http') h.fake.dropWatches();
    h.fake.deletePod('shop', 'web-0');
    h.fake.upsertPod({ namespace: 'shop', name: 'web-1', nodeName: NODE, containers: ['nginx'] });
    await waitFor(() => h.fake.countRequests('pods:list') > lists, 'relist');
    await waitFor(() => h.view.healthy(), 'healthy after relist');
    await waitFor(async () => (await stateOf(h.view, id('shop', 'web-1', 'nginx'))) === 'alive', 'new pod seen');
    expect(await stateOf(h.view, id('shop', 'web-0', 'nginx'))).toBe('orphan');
  });

  it('a quiet watch stays healthy across several watch timeouts', async () => {
    const h = await started();
    const samples: boolean[] = [];
    const watches = h.fake.countRequests('pods:watch');
    await waitFor(() => {
      samples.push(h.view.healthy());
      return h.fake.countRequests('pods:watch') >= watches + 3;
    }, 'three renewed watches');
    expect(samples.length).toBeGreaterThan(10);
    expect(samples.every(Boolean)).toBe(true);
    // Renewed from the last version, never relisted.
    expect(h.fake.countRequests('pods:list')).toBe(1);
  });

  it('bookmarks advance the resume version of a quiet watch', async () => {
    const h = await started();
    h.fake.upsertPod({ namespace: 'other', name: 'x', nodeName: 'node-b', containers: ['c'] });
    await waitFor(() => h.fake.openWatches('pods:watch') === 1, 'watching');
    expect(h.fake.sendBookmarks()).toBe(1);
    const watches = h.fake.countRequests('pods:watch');
    await waitFor(() => h.fake.countRequests('pods:watch') > watches, 'renewed');
    const renewed = h.fake.requests.filter((r) => r.route === 'pods:watch').at(-1);
    const first = h.fake.requests.find((r) => r.route === 'pods:watch');
    expect(Number(renewed?.query['resourceVersion'])).toBeGreaterThan(Number(first?.query['resourceVersion']));
  });

  it('a dropped watch is renewed without losing changes made meanwhile', async () => {
    const h = await startHarness();
    h.fake.upsertPod({ namespace: 'shop', name: 'web-0', nodeName: NODE, containers: ['nginx'] });
    h.view.start();
    await waitFor(() => h.view.healthy() && h.fake.openWatches('pods:watch') === 1, 'watching');
    h.fake.setFault('pods:watch', { kind: 'drop' });
    h.fake.dropWatches();
    h.fake.deletePod('shop', 'web-0');
    h.fake.upsertPod({ namespace: 'shop', name: 'web-2', nodeName: NODE, containers: ['nginx'] });
    await waitFor(() => !h.view.healthy(), 'failing re-watch noticed');
    h.fake.setFault('pods:watch', undefined);
    await waitFor(() => h.view.healthy(), 'healthy again');
    expect(await stateOf(h.view, id('shop', 'web-2', 'nginx'))).toBe('alive');
    expect(await stateOf(h.view, id('shop', 'web-0', 'nginx'))).toBe('orphan');
  });

  it('stops cleanly: no open watches remain', async () => {
    const h = await started();
    await waitFor(() => h.fake.openWatches('pods:watch') === 1, 'watching');
    await h.view.stop();
    await waitFor(() => h.fake.openWatches() === 0, 'watch closed');
  });
});
