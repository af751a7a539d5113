import { afterEach, describe, expect, it } from '@jest/globals';
import { pino } from 'pino';
import type { ArchiveIdentity } from '../../src/archive/types.js';
import { createDeletionEventRecorder, EVENT_REASON, type DeletionEventRecorder, type DeletionEventRecorderOptions } from '../../src/kubernetes/events.js';
import type { DeletionReason, PlannedDeletion } from '../../src/retention/types.js';
import { startFakeApiServer, type FakeApiServer, type KubeObject } from '../support/fake-apiserver.js';

const NODE = 'node-a';

function deletion(identity: ArchiveIdentity | undefined, reason: DeletionReason, index: number): PlannedDeletion {
  const owner = identity ? `${identity.pod}_${identity.namespace}-${identity.container}` : 'mystery';
  return {
    fileName: `checkpoint-${owner}-2024-01-28T00:${String(index % 60).padStart(2, '0')}:00Z.tar`,
    fingerprint: { dev: 1, ino: 1000 + index, size: 4096, mtimeMs: 0 },
    identity,
    reason,
    limitValue: reason === 'count' ? 3 : undefined,
    scope: identity ? { level: 'container', ...identity } : { level: 'node' },
    policySource: 'file policy.yaml',
    detail: `selected by ${reason} limit`,
  };
}

const web: ArchiveIdentity = { namespace: 'shop', pod: 'web-0', container: 'nginx' };
const api: ArchiveIdentity = { namespace: 'shop', pod: 'api-0', container: 'app' };

interface Harness {
  readonly fake: FakeApiServer;
  readonly recorder: DeletionEventRecorder;
  readonly clock: { ms: number };
  readonly scheduled: Array<() => void>;
}
let harness: Harness | undefined;

async function startHarness(overrides: Partial<DeletionEventRecorderOptions> = {}): Promise<Harness> {
  const fake = await startFakeApiServer();
  const clock = { ms: Date.UTC(2024, 0, 28, 12, 0, 0) };
  const scheduled: Array<() => void> = [];
  const recorder = createDeletionEventRecorder({
    kubeConfig: fake.kubeConfig(),
    nodeName: NODE,
    logger: pino({ level: 'silent' }),
    now: () => clock.ms,
    requestTimeoutMs: 1_000,
    // Tests flush by hand or run the scheduled flush explicitly.
    schedule: (run) => {
      scheduled.push(run);
      return () => {
        const index = scheduled.indexOf(run);
        if (index >= 0) scheduled.splice(index, 1);
      };
    },
    ...overrides,
  });
  harness = { fake, recorder, clock, scheduled };
  return harness;
}

const eventsFor = (fake: FakeApiServer, name: string): KubeObject[] =>
  fake.events().filter((e) => (e['involvedObject'] as { name?: string }).name === name);

afterEach(async () => {
  if (!harness) return;
  await harness.recorder.stop();
  await harness.fake.close();
  harness = undefined;
});

describe('deletion events', () => {
  it('emits one Normal Event on the pod with file, size and reason', async () => {
    const h = await startHarness();
    h.recorder.record(deletion(web, 'orphan', 1), 123_456);
    await h.recorder.flush();
    const [event] = h.fake.events();
    expect(h.fake.events()).toHaveLength(1);
    expect(event).toMatchObject({
      metadata: { namespace: 'shop' },
      type: 'Normal',
      reason: EVENT_REASON,
      count: 1,
      involvedObject: { kind: 'Pod', apiVersion: 'v1', namespace: 'shop', name: 'web-0' },
      source: { component: 'checkpoint-exporter', host: NODE },
      reportingComponent: 'checkpoint-exporter',
      reportingInstance: NODE,
      firstTimestamp: '2024-01-28T12:00:00.000Z',
    });
    const message = String(event?.['message']);
    expect(message).toContain('checkpoint-web-0_shop-nginx-2024-01-28T00:01:00Z.tar');
    expect(message).toContain('123456 bytes');
    expect(message).toContain('reason orphan');
    expect(message).toContain('container nginx');
  });

  it('names the pod by uid when the pod view knows it, so kubectl describe pod lists the Event', async () => {
    const h = await startHarness({ podUid: (namespace, name) => (namespace === 'shop' && name === 'web-0' ? 'b3f6c0de-0000-4000-8000-000000000001' : undefined) });
    h.recorder.record(deletion(web, 'count', 1), 10);
    await h.recorder.flush();
    expect(h.fake.events()[0]?.['involvedObject']).toEqual({ kind: 'Pod', apiVersion: 'v1', namespace: 'shop', name: 'web-0', uid: 'b3f6c0de-0000-4000-8000-000000000001' });
  });

  it('aggregates a burst: N deletions become one request per (pod, container, reason)', async () => {
    const h = await startHarness();
    for (let i = 0; i < 200; i++) h.recorder.record(deletion(web, 'disk_pressure', i), 1000);
    for (let i = 0; i < 50; i++) h.recorder.record(deletion(api, 'count', i), 10);
    h.recorder.record(deletion(api, 'age', 99), 10);
    expect(h.scheduled).toHaveLength(1);
    h.scheduled[0]?.();
    await h.recorder.flush();
    expect(h.fake.countRequests('events:create')).toBe(3);
    expect(h.fake.countRequests('events:patch')).toBe(0);
    const [pressure] = eventsFor(h.fake, 'web-0');
    expect(pressure).toMatchObject({ count: 200 });
    expect(String(pressure?.['message'])).toContain('Deleted 200 checkpoint archives (200000 bytes)');
    expect(eventsFor(h.fake, 'api-0').map((e) => e['count']).sort()).toEqual([1, 50]);
    expect(h.recorder.stats()).toMatchObject({ recorded: 251, created: 3, failed: 0 });
  });

  it('patches the count of the existing Event when the same owner repeats', async () => {
    const h = await startHarness();
    h.recorder.record(deletion(web, 'count', 1), 10);
    h.recorder.record(deletion(web, 'count', 2), 10);
    await h.recorder.flush();
    h.clock.ms += 60_000;
    h.recorder.record(deletion(web, 'count', 3), 10);
    await h.recorder.flush();
    expect(h.fake.countRequests('events:create')).toBe(1);
    expect(h.fake.countRequests('events:patch')).toBe(1);
    expect(h.fake.requests.find((r) => r.route === 'events:patch')?.contentType).toBe('application/merge-patch+json');
    const [event] = h.fake.events();
    expect(event).toMatchObject({ count: 3, lastTimestamp: new Date(h.clock.ms).toISOString() });
  });

  it('creates a fresh Event after the reuse window, or when the old one has expired', async () => {
    const h = await startHarness({ reuseWindowMs: 10 * 60_000 });
    h.recorder.record(deletion(web, 'count', 1), 10);
    await h.recorder.flush();
    h.clock.ms += 11 * 60_000;
    h.recorder.record(deletion(web, 'count', 2), 10);
    await h.recorder.flush();
    expect(h.fake.countRequests('events:create')).toBe(2);

    const newest = h.fake.events().at(-1);
    h.fake.deleteEvent('shop', String(newest?.metadata.name));
    h.recorder.record(deletion(web, 'count', 3), 10);
    await h.recorder.flush();
    expect(h.fake.countRequests('events:patch')).toBe(1);
    expect(h.fake.countRequests('events:create')).toBe(3);
    expect(h.fake.events()).toHaveLength(2);
  });

  it('reports unidentified archives on the Node, in the default namespace', async () => {
    const h = await startHarness();
    h.recorder.record(deletion(undefined, 'disk_pressure', 1), 77);
    await h.recorder.flush();
    expect(h.fake.events()[0]).toMatchObject({
      metadata: { namespace: 'default' },
      involvedObject: { kind: 'Node', name: NODE, uid: NODE },
    });
    expect(String(h.fake.events()[0]?.['message'])).toContain('with no identity');
  });

  it.each([
    ['403', { kind: 'status', code: 403 }],
    ['500', { kind: 'status', code: 500 }],
    ['a dropped connection', { kind: 'drop' }],
    ['no answer', { kind: 'stall-before-headers' }],
  ] as const)('API failure (%s) is counted and logged, never thrown', async (_name, fault) => {
    const h = await startHarness({ requestTimeoutMs: 200 });
    h.fake.setFault('events:create', fault);
    h.recorder.record(deletion(web, 'orphan', 1), 10);
    h.recorder.record(deletion(api, 'orphan', 2), 10);
    await expect(h.recorder.flush()).resolves.toBeUndefined();
    expect(h.recorder.stats()).toMatchObject({ failed: 2, created: 0 });
    h.fake.setFault('events:create', undefined);
    h.recorder.record(deletion(web, 'orphan', 3), 10);
    await h.recorder.flush();
    expect(h.recorder.stats()).toMatchObject({ failed: 2, created: 1 });
  });

  it('caps distinct Events per window and counts the rest as dropped', async () => {
    const h = await startHarness({ maxEventsPerFlush: 5 });
    for (let i = 0; i < 8; i++) h.recorder.record(deletion({ namespace: 'shop', pod: `p-${i}`, container: 'c' }, 'orphan', i), 1);
    h.recorder.record(deletion({ namespace: 'shop', pod: 'p-0', container: 'c' }, 'orphan', 9), 1);
    await h.recorder.flush();
    expect(h.fake.countRequests('events:create')).toBe(5);
    expect(h.recorder.stats()).toMatchObject({ recorded: 9, dropped: 3 });
  });

  it('stop sends what is pending and drops later records', async () => {
    const h = await startHarness();
    h.recorder.record(deletion(web, 'age', 1), 10);
    await h.recorder.stop();
    expect(h.fake.events()).toHaveLength(1);
    expect(h.scheduled).toHaveLength(0);
    h.recorder.record(deletion(web, 'age', 2), 10);
    await h.recorder.flush();
    expect(h.fake.events()).toHaveLength(1);
    expect(h.recorder.stats().dropped).toBe(1);
  });
});
