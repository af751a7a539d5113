import { afterEach, describe, expect, it } from '@jest/globals';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { connectKubernetes, type KubernetesConnection } from '../../src/daemon/kubernetes-wiring.js';
import { createPolicySources, type PolicySources } from '../../src/daemon/policy-sources.js';
import { createPolicyProblemEventWriter, POLICY_EVENT_REASON } from '../../src/kubernetes/events.js';
import { startFakeApiServer, type FakeApiServer, type KubeObject } from '../support/fake-apiserver.js';
import { waitUntil } from '../support/wait.js';

/**
 * Cluster policy objects the exporter refuses, through the real client against the fake API server:
 * an invalid object with no valid version stops retention, each invalid version gets one Warning Event
 * on the object (however many nodes see it), and objects outside the exporter's namespace may set
 * policies only for their own namespace.
 */
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function startFake(): Promise<FakeApiServer> {
  const fake = await startFakeApiServer();
  cleanups.push(() => fake.close());
  return fake;
}

interface Node {
  readonly policies: PolicySources;
  readonly connection: KubernetesConnection;
  /** How many times the policy set reached the sources. */
  changes(): number;
}

/** One exporter node's policy side: the real watch, the real sources, Events through the real wiring. */
async function startNode(fake: FakeApiServer, nodeName: string, exporterNamespace = 'checkpoint-exporter'): Promise<Node> {
  const dir = await mkdtemp(join(tmpdir(), 'policy-validity-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  const kubeconfigPath = join(dir, 'kubeconfig');
  await writeFile(kubeconfigPath, fake.kubeconfigYaml());
  const logger = pino({ level: 'silent' });
  let changes = 0;
  let connection: KubernetesConnection | undefined;
  const policies = createPolicySources({
    configPath: undefined,
    logger,
    now: Date.now,
    exporterNamespace,
    onInvalidObject: (object, problems) => connection?.recordPolicyProblem(object, problems),
  });
  connection = connectKubernetes({
    kubeconfigPath,
    nodeName,
    env: {},
    logger,
    now: Date.now,
    onPolicyObjects: (objects) => {
      policies.setClusterObjects(objects);
      changes += 1;
    },
  });
  if (!connection) throw new Error('no connection');
  const started = connection;
  started.start();
  cleanups.push(() => started.stop());
  return { policies, connection: started, changes: () => changes };
}

const policyEvents = (fake: FakeApiServer): KubeObject[] => fake.events().filter((e) => e['reason'] === POLICY_EVENT_REASON);

describe('invalid CheckpointRestoreOperator objects', () => {
  it('stop retention when no valid version exists, with a Warning Event on the object, until fixed', async () => {
    const fake = await startFake();
    fake.upsertPolicy('checkpoint-exporter', 'main', { globalPolicy: { maxCheckpointPerContainer: 50 } });
    const node = await startNode(fake, 'node-a');
    await waitUntil(() => node.connection.policiesSynced() && node.changes() > 0, 'policies listed');
    expect(node.policies.retentionAllowed()).toMatchObject({ ok: false, reason: expect.stringContaining('checkpoint-exporter/main') });
    expect(node.policies.objectValidity()).toEqual([{ namespace: 'checkpoint-exporter', name: 'main', valid: false }]);

    await waitUntil(() => policyEvents(fake).length === 1, 'Warning Event');
    const [event] = policyEvents(fake);
    expect(event).toMatchObject({
      type: 'Warning',
      reason: 'InvalidCheckpointPolicy',
      metadata: { namespace: 'checkpoint-exporter' },
      involvedObject: { kind: 'CheckpointRestoreOperator', apiVersion: 'criu.org/v1', namespace: 'checkpoint-exporter', name: 'main', uid: expect.any(String) },
      reportingComponent: 'checkpoint-exporter',
      reportingInstance: 'node-a',
    });
    expect(event?.['message']).toBe(
      'Invalid CheckpointRestoreOperator, not applied (nodes keep its last valid version, or run no retention without one): spec.globalPolicy.maxCheckpointPerContainer: unknown field; did you mean maxCheckpointsPerContainer?',
    );

    fake.upsertPolicy('checkpoint-exporter', 'main', { globalPolicy: { maxCheckpointsPerContainer: 50 } });
    await waitUntil(() => node.policies.retentionAllowed().ok, 'retention allowed once fixed');
    expect(node.policies.policy().global.maxCheckpointsPerContainer).toBe(50);
    expect(node.policies.objectValidity()).toEqual([{ namespace: 'checkpoint-exporter', name: 'main', valid: true }]);

    // An invalid edit now keeps the valid version in force: retention goes on, a new Event says why.
    fake.upsertPolicy('checkpoint-exporter', 'main', { globalPolicy: { maxCheckpointsPerContainer: 50, maxCheckpointSize: 10 } });
    await waitUntil(() => policyEvents(fake).length === 2, 'Event for the invalid edit');
    expect(node.policies.retentionAllowed()).toEqual({ ok: true });
    expect(node.policies.policy().global.maxCheckpointsPerContainer).toBe(50);
    expect(policyEvents(fake)[1]?.['message']).toContain('spec.globalPolicy.maxCheckpointSize: 10 has no unit');
  });

  it('are reported once between all the nodes that see them', async () => {
    const fake = await startFake();
    fake.upsertPolicy('shop', 'typo', { namespacePolicies: [{ namespace: 'shop', maxCheckpoint: 3 }] });
    const nodes = await Promise.all(['node-a', 'node-b', 'node-c'].map((name) => startNode(fake, name)));
    await waitUntil(() => nodes.every((n) => n.connection.policiesSynced() && !n.policies.retentionAllowed().ok), 'every node stopped');
    await waitUntil(() => fake.countRequests('events:create') === 3, 'every node tried once');
    expect(policyEvents(fake)).toHaveLength(1);
    expect(policyEvents(fake)[0]).toMatchObject({ metadata: { namespace: 'shop' }, involvedObject: { namespace: 'shop', name: 'typo' } });
  });

  it('outside the exporter namespace may set only their own namespace: oversteps are refused', async () => {
    const fake = await startFake();
    fake.upsertPolicy('checkpoint-exporter', 'main', { globalPolicy: { maxCheckpointsPerContainer: 20 }, namespacePolicies: [{ namespace: 'shop', maxCheckpoints: 7 }] });
    fake.upsertPolicy('shop', 'own', { namespacePolicies: [{ namespace: 'shop', maxCheckpoints: 2 }], podPolicies: [{ namespace: 'shop', pod: 'web-0', maxCheckpoints: 1 }] });
    fake.upsertPolicy('a', 'aaa', { globalPolicy: { maxCheckpointsPerContainer: 1 } });
    fake.upsertPolicy('team', 'other', { namespacePolicies: [{ namespace: 'payments', maxCheckpoints: 1 }] });
    const node = await startNode(fake, 'node-a');
    await waitUntil(() => node.connection.policiesSynced() && node.policies.objectValidity().length === 4, 'policies listed');
    expect(node.policies.objectValidity()).toEqual([
      { namespace: 'a', name: 'aaa', valid: false },
      { namespace: 'checkpoint-exporter', name: 'main', valid: true },
      { namespace: 'shop', name: 'own', valid: true },
      { namespace: 'team', name: 'other', valid: false },
    ]);
    expect(node.policies.retentionAllowed().ok).toBe(false);
    // The exporter namespace sets the global policy; for shop, set by both, the limit that deletes less applies and the conflict is reported.
    const policy = node.policies.policy();
    expect(policy.global.maxCheckpointsPerContainer).toBe(20);
    const main = 'CheckpointRestoreOperator checkpoint-exporter/main namespacePolicies[0]';
    expect(policy.namespacePolicies).toEqual([{ namespace: 'shop', maxCheckpoints: 7, source: main, fieldSources: { maxCheckpoints: main } }]);
    expect(node.policies.conflicts().map((c) => [c.scope, c.field, c.applied.value])).toEqual([['namespace shop', 'maxCheckpoints', 7]]);
    expect(policy.podPolicies).toEqual([{ namespace: 'shop', pod: 'web-0', maxCheckpoints: 1, source: 'CheckpointRestoreOperator shop/own podPolicies[0]' }]);
    await waitUntil(() => policyEvents(fake).length === 2, 'Events on both oversteps');
    expect(policyEvents(fake).map((e) => `${(e['involvedObject'] as { namespace: string; name: string }).namespace}/${(e['involvedObject'] as { name: string }).name}`).sort()).toEqual([
      'a/aaa',
      'team/other',
    ]);
    expect(policyEvents(fake).find((e) => (e['involvedObject'] as { name: string }).name === 'other')?.['message']).toContain(
      'spec.namespacePolicies[0].namespace: "payments" is another namespace: an object in namespace team may set policies only for team',
    );

    fake.deletePolicy('a', 'aaa');
    fake.deletePolicy('team', 'other');
    await waitUntil(() => node.policies.retentionAllowed().ok, 'retention resumes without the oversteps');
  });

  it('take the exporter namespace from the configuration', async () => {
    const fake = await startFake();
    fake.upsertPolicy('ops', 'main', { globalPolicy: { maxCheckpointsPerContainer: 20 } });
    const node = await startNode(fake, 'node-a', 'ops');
    await waitUntil(() => node.connection.policiesSynced() && node.changes() > 0, 'policies listed');
    expect(node.policies.retentionAllowed()).toEqual({ ok: true });
    expect(node.policies.policy().global.maxCheckpointsPerContainer).toBe(20);
  });
});

describe('policy problem Event writer', () => {
  it('logs and counts a failing API, never throws, and sends nothing after stop', async () => {
    const fake = await startFake();
    fake.setFault('events:create', { kind: 'status', code: 500 });
    const writer = createPolicyProblemEventWriter({ kubeConfig: fake.kubeConfig(), logger: pino({ level: 'silent' }), now: Date.now, requestTimeoutMs: 1_000 });
    writer.report({ namespace: 'shop', name: 'p', uid: 'u1', resourceVersion: '5' }, ['CheckpointRestoreOperator shop/p: spec.x: unknown field']);
    await writer.idle();
    expect(writer.stats()).toMatchObject({ reported: 1, created: 0, failed: 1 });

    // A failed send is tried again on the next report of the same version.
    fake.setFault('events:create', undefined);
    writer.report({ namespace: 'shop', name: 'p', uid: 'u1', resourceVersion: '5' }, ['CheckpointRestoreOperator shop/p: spec.x: unknown field']);
    writer.report({ namespace: 'shop', name: 'p', uid: 'u1', resourceVersion: '5' }, ['CheckpointRestoreOperator shop/p: spec.x: unknown field']);
    await writer.idle();
    expect(writer.stats()).toMatchObject({ reported: 3, created: 1, failed: 1 });
    expect(policyEvents(fake)).toHaveLength(1);

    await writer.stop();
    writer.report({ namespace: 'shop', name: 'p', uid: 'u1', resourceVersion: '6' }, ['later']);
    await writer.idle();
    expect(policyEvents(fake)).toHaveLength(1);
  });

  it('cuts a long list of problems to the Event message limit', async () => {
    const fake = await startFake();
    const writer = createPolicyProblemEventWriter({ kubeConfig: fake.kubeConfig(), logger: pino({ level: 'silent' }), now: Date.now, nodeName: 'node-a' });
    writer.report({ namespace: 'shop', name: 'p' }, Array.from({ length: 50 }, (_, i) => `CheckpointRestoreOperator shop/p: spec.field${i}: unknown field; did you mean something?`));
    await writer.idle();
    const message = String(policyEvents(fake)[0]?.['message']);
    expect(message.length).toBeLessThanOrEqual(1024);
    expect(message.endsWith('…')).toBe(true);
    expect(message).toContain('spec.field0: unknown field');
  });
});
