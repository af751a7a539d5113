import { afterEach, describe, expect, it } from '@jest/globals';
import { pino } from 'pino';
import { Writable } from 'node:stream';
import { realDelay, type DelayFn } from '../../src/kubernetes/backoff.js';
import { watchPolicyObjects, type PolicyObject, type PolicyWatch, type PolicyWatchOptions } from '../../src/kubernetes/policy-watch.js';
import { startFakeApiServer, type FakeApiServer } from '../support/fake-apiserver.js';
import { waitUntil as waitFor } from '../support/wait.js';

interface Harness {
  readonly fake: FakeApiServer;
  readonly watch: PolicyWatch;
  readonly calls: Array<ReadonlyArray<PolicyObject>>;
  readonly delays: number[];
  readonly logLines: Array<{ level: number; msg: string }>;
}

let harness: Harness | undefined;

async function startHarness(prepare: (fake: FakeApiServer) => void = () => {}, overrides: Partial<PolicyWatchOptions> = {}): Promise<Harness> {
  const fake = await startFakeApiServer();
  prepare(fake);
  const calls: Array<ReadonlyArray<PolicyObject>> = [];
  const delays: number[] = [];
  const logLines: Array<{ level: number; msg: string }> = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n').filter(Boolean)) logLines.push(JSON.parse(line) as { level: number; msg: string });
      done();
    },
  });
  const delay: DelayFn = (ms, signal) => {
    delays.push(ms);
    return realDelay(Math.min(ms, 20), signal);
  };
  const watch = watchPolicyObjects({
    kubeConfig: fake.kubeConfig(),
    logger: pino({ level: 'debug' }, sink),
    onChange: (objects) => calls.push(objects),
    delay,
    backoff: { initialMs: 50, maxMs: 400 },
    watchTimeoutSeconds: 1,
    watchGraceMs: 300,
    requestTimeoutMs: 1_000,
    absentRetryMs: 60_000,
    ...overrides,
  });
  watch.start();
  harness = { fake, watch, calls, delays, logLines };
  return harness;
}

const names = (objects: ReadonlyArray<PolicyObject> | undefined): string[] => (objects ?? []).map((o) => `${o.namespace}/${o.name}`);
const last = (h: Harness): ReadonlyArray<PolicyObject> | undefined => h.calls.at(-1);

afterEach(async () => {
  if (!harness) return;
  await harness.watch.stop();
  await harness.fake.close();
  harness = undefined;
});

describe('policy watch', () => {
  it('reports existing objects sorted by namespace and name, from a cluster-wide list and watch', async () => {
    const h = await startHarness((fake) => {
      fake.upsertPolicy('zeta', 'default', { retainOrphan: true });
      fake.upsertPolicy('alpha', 'b', { maxCheckpointsPerPod: 3 });
      fake.upsertPolicy('alpha', 'a', {});
    });
    await waitFor(() => h.calls.length > 0, 'first onChange');
    expect(names(h.calls[0])).toEqual(['alpha/a', 'alpha/b', 'zeta/default']);
    expect(h.calls[0]?.[2]?.object).toMatchObject({ kind: 'CheckpointRestoreOperator', spec: { retainOrphan: true } });
    expect(h.watch.healthy()).toBe(true);
    await waitFor(() => h.fake.countRequests('policies:watch') > 0, 'watch');
    expect(h.fake.requests.find((r) => r.route === 'policies:watch')?.path).toBe('/apis/criu.org/v1/checkpointrestoreoperators');
  });

  it('follows adds, changes and removals with the full current set', async () => {
    const h = await startHarness();
    await waitFor(() => h.calls.length === 1 && h.fake.openWatches('policies:watch') === 1, 'watching');
    expect(last(h)).toEqual([]);

    h.fake.upsertPolicy('ops', 'default', { maxCheckpointsPerContainer: 5 });
    await waitFor(() => names(last(h)).join() === 'ops/default', 'added');

    h.fake.upsertPolicy('ops', 'default', { maxCheckpointsPerContainer: 2 });
    await waitFor(() => (last(h)?.[0]?.object as { spec?: { maxCheckpointsPerContainer?: number } }).spec?.maxCheckpointsPerContainer === 2, 'changed');

    h.fake.upsertPolicy('dev', 'team', {});
    await waitFor(() => names(last(h)).join() === 'dev/team,ops/default', 'second added');

    h.fake.deletePolicy('ops', 'default');
    await waitFor(() => names(last(h)).join() === 'dev/team', 'removed');
  });

  it('after a 410 relists and reports the full set again', async () => {
    const h = await startHarness((fake) => fake.upsertPolicy('ops', 'default', {}));
    await waitFor(() => h.fake.openWatches('policies:watch') === 1, 'watching');
    h.fake.expireResourceVersions('error-event');
    h.fake.upsertPolicy('dev', 'team', {});
    await waitFor(() => h.fake.countRequests('policies:list') === 2, 'relist');
    await waitFor(() => names(last(h)).join() === 'dev/team,ops/default' && h.watch.healthy(), 'set after relist');
  });

  it('a missing CRD is logged once, reported as an empty set, and retried slowly', async () => {
    const h = await startHarness((fake) => fake.setPolicyCrdInstalled(false), { absentRetryMs: 5_000 });
    await waitFor(() => h.fake.countRequests('policies:list') >= 4, 'several retries');
    expect(h.watch.healthy()).toBe(true);
    expect(h.calls).toEqual([[]]);
    expect(h.delays.every((ms) => ms === 5_000)).toBe(true);
    expect(h.logLines.filter((l) => l.level >= 40)).toHaveLength(1);

    h.fake.setPolicyCrdInstalled(true);
    h.fake.upsertPolicy('ops', 'default', {});
    await waitFor(() => names(last(h)).join() === 'ops/default', 'found once installed');
  });

  it.each([
    ['403', 403],
    ['500', 500],
  ] as const)('a %s on list keeps the last set, turns unhealthy, and recovers', async (_name, code) => {
    const h = await startHarness((fake) => fake.upsertPolicy('ops', 'default', {}));
    await waitFor(() => h.calls.length === 1 && h.fake.openWatches('policies:watch') === 1, 'watching');
    h.fake.setFault('policies:list', { kind: 'status', code });
    h.fake.setFault('policies:watch', { kind: 'status', code });
    h.fake.dropWatches();
    await waitFor(() => !h.watch.healthy(), 'unhealthy');
    await waitFor(() => h.fake.countRequests('policies:list') >= 3, 'retries');
    expect(h.calls).toHaveLength(1);
    h.fake.setFault('policies:list', undefined);
    h.fake.setFault('policies:watch', undefined);
    await waitFor(() => h.watch.healthy(), 'healthy again');
    expect(names(last(h))).toEqual(['ops/default']);
  });

  it.each([
    ['a dropped watch', 'drop'],
    ['a 410 on the watch', 'expire'],
  ] as const)('a transient 404 on the relist after %s keeps the known set, turns unhealthy, and recovers', async (_name, end) => {
    const h = await startHarness((fake) => {
      fake.upsertPolicy('ops', 'default', { maxCheckpointsPerContainer: 50 });
      fake.upsertPolicy('dev', 'team', {});
    });
    await waitFor(() => h.calls.length === 1 && h.fake.openWatches('policies:watch') === 1, 'watching');
    h.fake.setFault('policies:list', { kind: 'status', code: 404 });
    h.fake.setFault('policies:watch', { kind: 'status', code: 404 });
    if (end === 'drop') h.fake.dropWatches();
    else h.fake.expireResourceVersions('error-event');
    await waitFor(() => !h.watch.healthy(), 'unhealthy');
    await waitFor(() => h.fake.countRequests('policies:list') >= 4, 'retries');
    expect(h.calls).toHaveLength(1);
    expect(h.watch.synced()).toBe(true);
    // Retried with the ordinary backoff, not the slow retry meant for an uninstalled CRD.
    expect(h.delays).not.toContain(60_000);

    h.fake.setFault('policies:list', undefined);
    h.fake.setFault('policies:watch', undefined);
    await waitFor(() => h.watch.healthy(), 'healthy again');
    expect(names(last(h))).toEqual(['dev/team', 'ops/default']);
    expect(h.calls.every((call) => call.length === 2)).toBe(true);
  });

  it('objects leave by DELETED events; a CRD then really uninstalled is an empty set again, healthy', async () => {
    const h = await startHarness((fake) => fake.upsertPolicy('ops', 'default', {}));
    await waitFor(() => h.calls.length === 1 && h.fake.openWatches('policies:watch') === 1, 'watching');
    h.fake.deletePolicy('ops', 'default');
    await waitFor(() => names(last(h)).length === 0, 'deletion seen');
    h.fake.setPolicyCrdInstalled(false);
    h.fake.dropWatches();
    await waitFor(() => h.fake.countRequests('policies:list') >= 2, 'relist');
    await waitFor(() => h.watch.healthy(), 'healthy as absent');
    expect(h.delays).toContain(60_000);
    expect(last(h)).toEqual([]);
    expect(h.watch.synced()).toBe(true);
  });

  it.each([
    ['503', 503],
    ['403', 403],
  ] as const)('synced() stays false while the first list fails with %s, and turns true with the first answer', async (_name, code) => {
    const h = await startHarness((fake) => {
      fake.upsertPolicy('ops', 'default', {});
      fake.setFault('policies:list', { kind: 'status', code });
    });
    await waitFor(() => h.fake.countRequests('policies:list') >= 3, 'retries');
    expect(h.watch.synced()).toBe(false);
    expect(h.calls).toEqual([]);
    h.fake.setFault('policies:list', undefined);
    await waitFor(() => h.watch.synced(), 'synced');
    expect(names(last(h))).toEqual(['ops/default']);
  });

  it('synced() is true once the first list says the CRD is not installed, and stays true through later failures', async () => {
    const h = await startHarness((fake) => fake.setPolicyCrdInstalled(false), { absentRetryMs: 50 });
    await waitFor(() => h.watch.synced(), 'synced as absent');
    expect(h.calls).toEqual([[]]);

    h.fake.setPolicyCrdInstalled(true);
    h.fake.upsertPolicy('ops', 'default', {});
    await waitFor(() => names(last(h)).join() === 'ops/default' && h.fake.openWatches('policies:watch') === 1, 'found once installed');
    h.fake.setFault('policies:list', { kind: 'status', code: 500 });
    h.fake.setFault('policies:watch', { kind: 'status', code: 500 });
    h.fake.dropWatches();
    await waitFor(() => !h.watch.healthy(), 'unhealthy');
    expect(h.watch.synced()).toBe(true);
  });

  it('an onChange that throws does not stop the watch', async () => {
    let calls = 0;
    const h = await startHarness(() => {}, {
      onChange: () => {
        calls += 1;
        throw new Error('consumer bug');
      },
    });
    await waitFor(() => calls === 1 && h.fake.openWatches('policies:watch') === 1, 'first call');
    h.fake.upsertPolicy('ops', 'default', {});
    await waitFor(() => calls === 2, 'second call');
    expect(h.watch.healthy()).toBe(true);
  });
});
