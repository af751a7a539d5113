import { describe, expect, it } from '@jest/globals';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { createPolicySources, type PolicyObjectRef } from '../../../src/daemon/policy-sources.js';
import type { PolicyObject } from '../../../src/kubernetes/policy-watch.js';
import { registerPolicyCollector } from '../../../src/metrics/policy-collector.js';
import { sampleValue } from '../../support/metrics-text.js';

function object(namespace: string, name: string, spec: unknown, resourceVersion = '1'): PolicyObject {
  return {
    namespace,
    name,
    uid: `uid-${namespace}-${name}`,
    resourceVersion,
    object: { apiVersion: 'criu.org/v1', kind: 'CheckpointRestoreOperator', metadata: { namespace, name, uid: `uid-${namespace}-${name}`, resourceVersion }, spec },
  };
}

function setup(exporterNamespace?: string) {
  const logs: Array<{ level: number; msg: string; problems?: string[] }> = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n').filter(Boolean)) logs.push(JSON.parse(line) as { level: number; msg: string });
      done();
    },
  });
  const invalid: Array<{ object: PolicyObjectRef; problems: readonly string[] }> = [];
  const sources = createPolicySources({
    configPath: undefined,
    logger: pino({ level: 'info' }, sink),
    now: () => 1_000,
    ...(exporterNamespace !== undefined ? { exporterNamespace } : {}),
    onInvalidObject: (o, problems) => invalid.push({ object: o, problems }),
  });
  return { sources, logs, invalid };
}

const typo = { globalPolicy: { maxCheckpointPerContainer: 50 } };

describe('policy sources', () => {
  it('stops retention for an invalid object with no valid version, and says why before any run', () => {
    const { sources, logs, invalid } = setup();
    expect(sources.retentionAllowed()).toEqual({ ok: true });
    sources.setClusterObjects([object('checkpoint-exporter', 'main', typo)]);
    const allowed = sources.retentionAllowed();
    expect(allowed.ok).toBe(false);
    if (!allowed.ok) expect(allowed.reason).toContain('CheckpointRestoreOperator checkpoint-exporter/main is invalid with no valid version in force');
    // Nothing of the object is applied, and the defaults are not put in its place: retention simply does not run.
    expect(sources.policy().global.source).toBe('default');
    expect(sources.objectValidity()).toEqual([{ namespace: 'checkpoint-exporter', name: 'main', valid: false }]);
    expect(sources.problems()).toEqual([
      'CheckpointRestoreOperator checkpoint-exporter/main: spec.globalPolicy.maxCheckpointPerContainer: unknown field; did you mean maxCheckpointsPerContainer?',
    ]);
    expect(logs.filter((l) => l.level >= 50).map((l) => l.msg)).toEqual([
      'invalid CheckpointRestoreOperator checkpoint-exporter/main with no valid version: retention is stopped until it is fixed or deleted',
      expect.stringContaining('retention is stopped: CheckpointRestoreOperator checkpoint-exporter/main is invalid'),
    ]);
    expect(invalid).toEqual([
      {
        object: { namespace: 'checkpoint-exporter', name: 'main', uid: 'uid-checkpoint-exporter-main', resourceVersion: '1' },
        problems: sources.problems(),
      },
    ]);
  });

  it('reports an unchanged invalid object once, a new version of it again', () => {
    const { sources, logs, invalid } = setup();
    sources.setClusterObjects([object('checkpoint-exporter', 'main', typo)]);
    sources.setClusterObjects([object('checkpoint-exporter', 'main', typo)]);
    expect(invalid).toHaveLength(1);
    sources.setClusterObjects([object('checkpoint-exporter', 'main', { globalPolicy: { maxCheckpointSize: 10 } }, '2')]);
    expect(invalid).toHaveLength(2);
    expect(logs.filter((l) => l.msg.startsWith('invalid CheckpointRestoreOperator'))).toHaveLength(2);
  });

  it('resumes when the object is fixed, and when it is deleted', () => {
    const { sources, logs } = setup();
    sources.setClusterObjects([object('checkpoint-exporter', 'main', typo)]);
    sources.setClusterObjects([object('checkpoint-exporter', 'main', { globalPolicy: { maxCheckpointsPerContainer: 50 } }, '2')]);
    expect(sources.retentionAllowed()).toEqual({ ok: true });
    expect(sources.policy().global.maxCheckpointsPerContainer).toBe(50);
    expect(sources.objectValidity()).toEqual([{ namespace: 'checkpoint-exporter', name: 'main', valid: true }]);
    expect(logs.map((l) => l.msg)).toContain('every CheckpointRestoreOperator object is valid or has a valid version in force: retention resumes');

    sources.setClusterObjects([object('checkpoint-exporter', 'other', typo)]);
    expect(sources.retentionAllowed().ok).toBe(false);
    sources.setClusterObjects([]);
    expect(sources.retentionAllowed()).toEqual({ ok: true });
    expect(sources.objectValidity()).toEqual([]);
  });

  it('keeps the last valid version of an object whose edit is invalid, and retention goes on', () => {
    const { sources, invalid } = setup();
    sources.setClusterObjects([object('checkpoint-exporter', 'main', { globalPolicy: { maxCheckpointsPerContainer: 50 } })]);
    sources.setClusterObjects([object('checkpoint-exporter', 'main', typo, '2')]);
    expect(sources.retentionAllowed()).toEqual({ ok: true });
    expect(sources.policy().global.maxCheckpointsPerContainer).toBe(50);
    expect(sources.objectValidity()).toEqual([{ namespace: 'checkpoint-exporter', name: 'main', valid: false }]);
    expect(invalid).toHaveLength(1);
    expect(sources.describe()).toMatchObject({
      retention: { ok: true },
      sources: { cluster: { exporterNamespace: 'checkpoint-exporter', objects: ['CheckpointRestoreOperator checkpoint-exporter/main'], rejected: [{ keptLastValid: true }] } },
    });
  });

  it('refuses an object outside the exporter namespace that sets more than its own namespace', () => {
    const { sources } = setup('ops');
    sources.setClusterObjects([
      object('ops', 'main', { globalPolicy: { maxCheckpointsPerContainer: 5 } }),
      object('shop', 'own', { namespacePolicies: [{ namespace: 'shop', maxCheckpoints: 3 }] }),
      object('a', 'aaa', { globalPolicy: { maxCheckpointsPerContainer: 1 } }),
    ]);
    expect(sources.objectValidity()).toEqual([
      { namespace: 'ops', name: 'main', valid: true },
      { namespace: 'shop', name: 'own', valid: true },
      { namespace: 'a', name: 'aaa', valid: false },
    ]);
    expect(sources.problems()).toEqual([
      "CheckpointRestoreOperator a/aaa: spec.globalPolicy: only the policy file or an object in the exporter's namespace ops may set the global policy; this object is in namespace a",
    ]);
    expect(sources.retentionAllowed().ok).toBe(false);
  });

  it('lets the file outrank cluster objects and keeps the file status apart from them', () => {
    const { sources } = setup();
    sources.setClusterObjects([object('checkpoint-exporter', 'main', { globalPolicy: { maxCheckpointsPerContainer: 50 } })]);
    expect(sources.configStatus()).toEqual({ lastReloadSuccessful: true, lastSuccessMs: 1_000 });
    sources.fileLoadFailed('file p.yaml: document 0: spec.x: unknown field');
    expect(sources.configStatus().lastReloadSuccessful).toBe(false);
    expect(sources.retentionAllowed()).toEqual({ ok: true });
  });

  it('exposes object validity and the stop as metrics; series of deleted objects go', async () => {
    const { sources } = setup();
    const registry = new Registry();
    registerPolicyCollector(registry, sources);
    sources.setClusterObjects([object('checkpoint-exporter', 'main', typo), object('shop', 'own', { namespacePolicies: [{ namespace: 'shop' }] })]);
    let text = await registry.metrics();
    expect(sampleValue(text, 'checkpoint_policy_object_valid', { namespace: 'checkpoint-exporter', name: 'main' })).toBe(0);
    expect(sampleValue(text, 'checkpoint_policy_object_valid', { namespace: 'shop', name: 'own' })).toBe(1);
    expect(sampleValue(text, 'checkpoint_retention_blocked_by_policy')).toBe(1);
    sources.setClusterObjects([object('shop', 'own', { namespacePolicies: [{ namespace: 'shop' }] })]);
    text = await registry.metrics();
    expect(sampleValue(text, 'checkpoint_policy_object_valid', { namespace: 'checkpoint-exporter', name: 'main' })).toBeUndefined();
    expect(sampleValue(text, 'checkpoint_retention_blocked_by_policy')).toBe(0);
  });

  it('two objects setting one scope differently: the less-deleting setting applies, logged once per change, in the API and the metric', async () => {
    const { sources, logs } = setup();
    const registry = new Registry();
    registerPolicyCollector(registry, sources);
    const shopThree = object('shop', 'three', { namespacePolicies: [{ namespace: 'shop', maxCheckpoints: 3 }] });
    const shopEight = object('shop', 'eight', { namespacePolicies: [{ namespace: 'shop', maxCheckpoints: 8, retainOrphan: false }] });
    sources.setClusterObjects([shopThree, shopEight]);
    expect(sources.policy().namespacePolicies).toMatchObject([{ namespace: 'shop', maxCheckpoints: 8 }]);
    // shop/three leaves retainOrphan unset: orphans are kept, which deletes less than false.
    expect(sources.policy().namespacePolicies[0]?.retainOrphan).toBeUndefined();
    const conflicts = sources.conflicts();
    expect(conflicts.map((c) => [c.scope, c.field, c.applied])).toEqual([
      ['namespace shop', 'retainOrphan', { source: 'CheckpointRestoreOperator shop/three namespacePolicies[0]', value: null }],
      ['namespace shop', 'maxCheckpoints', { source: 'CheckpointRestoreOperator shop/eight namespacePolicies[0]', value: 8 }],
    ]);
    expect(sources.describe()).toMatchObject({ conflicts });
    expect(sampleValue(await registry.metrics(), 'checkpoint_policy_conflicts')).toBe(2);
    const warned = (): string[] => logs.filter((l) => l.level === 40 && l.msg.startsWith('policy conflict: ')).map((l) => l.msg);
    expect(warned()).toEqual(conflicts.map((c) => `policy conflict: ${c.message}`));

    // The same objects again (a resync): nothing new to say.
    sources.setClusterObjects([shopThree, shopEight]);
    expect(warned()).toHaveLength(2);
    // One conflict goes away: it is logged as resolved, the other is not logged again.
    sources.setClusterObjects([shopThree, object('shop', 'eight', { namespacePolicies: [{ namespace: 'shop', maxCheckpoints: 8 }] }, '2')]);
    expect(warned()).toHaveLength(2);
    expect(logs.filter((l) => l.msg === 'policy conflict resolved')).toHaveLength(1);
    expect(sampleValue(await registry.metrics(), 'checkpoint_policy_conflicts')).toBe(1);
    sources.setClusterObjects([shopThree]);
    expect(sources.conflicts()).toEqual([]);
    expect(sampleValue(await registry.metrics(), 'checkpoint_policy_conflicts')).toBe(0);
  });

  it('survives a throwing invalid-object callback', () => {
    const sources = createPolicySources({
      configPath: undefined,
      logger: pino({ level: 'silent' }),
      now: () => 0,
      onInvalidObject: () => {
        throw new Error('boom');
      },
    });
    expect(() => sources.setClusterObjects([object('checkpoint-exporter', 'main', typo)])).not.toThrow();
    expect(sources.retentionAllowed().ok).toBe(false);
  });
});
