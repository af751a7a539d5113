import { describe, expect, it } from '@jest/globals';
import { describePolicy, mergePolicies } from '../../../src/retention/merge-policies.js';
import { parsePolicyDocument, parsePolicyYaml, splitProblems, type PolicyDocument } from '../../../src/retention/policy-document.js';
import { planPodArchives } from '../../../src/retention/pod-scope-policy.js';
import type { RetentionPolicy } from '../../../src/retention/types.js';
import { MINUTE, T0, policyOf, series, snapshotOf } from './builders.js';

/**
 * `deleteReferencedPodCheckpoints`: parsed, refused when mistyped, merged with the setting that deletes
 * less (false), shown with its source, and used by the pod planner: a referenced pod archive is kept
 * by default, deletable by the pod limits when true, and a pin is kept either way.
 */

const header = 'apiVersion: criu.org/v1\nkind: CheckpointRestoreOperator\nmetadata:\n  namespace: checkpoint-exporter\n  name: default\n';

function parseFile(spec: string): PolicyDocument[] {
  const parsed = parsePolicyYaml(`${header}spec:\n${spec}`, 'file policy.yaml');
  if (!parsed.ok) throw new Error(parsed.reason);
  return parsed.value;
}

function cluster(namespace: string, name: string, spec: Record<string, unknown>): PolicyDocument {
  const parsed = parsePolicyDocument(
    { apiVersion: 'criu.org/v1', kind: 'CheckpointRestoreOperator', metadata: { namespace, name }, spec },
    `CheckpointRestoreOperator ${namespace}/${name}`,
    { origin: 'cluster', authority: { exporterNamespace: 'checkpoint-exporter' } },
  );
  if (!parsed.ok) throw new Error(parsed.reason);
  return parsed.value;
}

describe('deleteReferencedPodCheckpoints in the policy', () => {
  it('is off by default, and shown with its source', () => {
    expect(mergePolicies([]).global.deleteReferencedPodCheckpoints).toBe(false);
    expect(describePolicy(mergePolicies([])).globalPolicy.deleteReferencedPodCheckpoints).toEqual({ value: false, source: 'default' });
    const policy = mergePolicies(parseFile('  globalPolicy: { maxCheckpointsPerPod: 2, deleteReferencedPodCheckpoints: true }\n'));
    expect(policy.global.deleteReferencedPodCheckpoints).toBe(true);
    expect(describePolicy(policy).globalPolicy.deleteReferencedPodCheckpoints).toEqual({ value: true, source: 'file policy.yaml globalPolicy' });
  });

  it.each([
    ['a string', 'globalPolicy:\n    deleteReferencedPodCheckpoints: "yes"', 'spec.globalPolicy.deleteReferencedPodCheckpoints: expected true or false, got "yes"'],
    ['a number', 'globalPolicy:\n    deleteReferencedPodCheckpoints: 1', 'spec.globalPolicy.deleteReferencedPodCheckpoints: expected true or false, got number 1'],
    ['no value', 'globalPolicy:\n    deleteReferencedPodCheckpoints:', 'spec.globalPolicy.deleteReferencedPodCheckpoints: has no value'],
    ['a misspelling', 'globalPolicy:\n    deleteReferencedPodCheckpoint: true', 'did you mean deleteReferencedPodCheckpoints?'],
    ['the wrong level', 'deleteReferencedPodCheckpoints: true', 'deleteReferencedPodCheckpoints is a field of spec.globalPolicy'],
    ['a pod policy', 'podPolicies:\n    - { namespace: a, pod: b, deleteReferencedPodCheckpoints: true }', 'spec.podPolicies[0]'],
  ])('refuses the whole document for %s', (_label, spec, problem) => {
    const parsed = parsePolicyYaml(`${header}spec:\n  ${spec}\n`, 'file policy.yaml');
    expect(parsed.ok).toBe(false);
    if (parsed.ok) return;
    expect(splitProblems(parsed.reason).some((line) => line.includes(problem))).toBe(true);
  });

  it('set differently by two documents, false applies (it deletes less) and the conflict is reported', () => {
    const file = parseFile('  globalPolicy: { deleteReferencedPodCheckpoints: true }\n');
    const object = cluster('checkpoint-exporter', 'a', { globalPolicy: { deleteReferencedPodCheckpoints: false } });
    for (const docs of [[object, ...file], [...file, object]]) {
      const policy = mergePolicies(docs);
      expect(policy.global.deleteReferencedPodCheckpoints).toBe(false);
      expect(policy.global.fieldSources?.deleteReferencedPodCheckpoints).toBe('CheckpointRestoreOperator checkpoint-exporter/a globalPolicy');
      const conflict = (policy.conflicts ?? []).find((c) => c.field === 'deleteReferencedPodCheckpoints');
      expect(conflict).toMatchObject({ scope: 'global', applied: { value: false, source: 'CheckpointRestoreOperator checkpoint-exporter/a globalPolicy' } });
      expect(conflict?.message).toContain('deleteReferencedPodCheckpoints false keeps the pod archives PodCheckpoint objects reference');
    }
    // Both true: no conflict, true applies.
    const both = mergePolicies([...file, cluster('checkpoint-exporter', 'b', { globalPolicy: { deleteReferencedPodCheckpoints: true } })]);
    expect(both.global.deleteReferencedPodCheckpoints).toBe(true);
    expect((both.conflicts ?? []).filter((c) => c.field === 'deleteReferencedPodCheckpoints')).toEqual([]);
  });

  it('may not be set by an object in another namespace', () => {
    expect(() => cluster('shop', 'global', { globalPolicy: { deleteReferencedPodCheckpoints: true } })).toThrow('only the policy file or an object in the exporter');
  });
});

describe('planPodArchives with referenced archives', () => {
  const archives = series(4, { namespace: 'shop', pod: 'web-0', container: '', fromMinute: 0 });
  const names = archives.map((a) => a.fileName);
  const plan = (policy: RetentionPolicy, referenced: ReadonlySet<string>, records = archives) =>
    planPodArchives({ snapshot: snapshotOf(records), policy, referenced, nowMs: T0 + 60 * MINUTE }).deletions.map((d) => d.fileName);

  it('keeps a referenced archive by default: the count takes the next oldest', () => {
    const policy = policyOf({ globalPolicy: { maxCheckpointsPerPod: 2 } });
    expect(plan(policy, new Set())).toEqual([names[0], names[1]]);
    // The referenced oldest is kept and still counted, so only one unreferenced archive fits beside it.
    expect(plan(policy, new Set([names[0]!]))).toEqual([names[1], names[2]]);
  });

  it('lets the pod count delete a referenced archive when deleteReferencedPodCheckpoints is true', () => {
    const policy = policyOf({ globalPolicy: { maxCheckpointsPerPod: 2, deleteReferencedPodCheckpoints: true } });
    expect(plan(policy, new Set([names[0]!, names[1]!]))).toEqual([names[0], names[1]]);
  });

  it('never deletes a pinned archive, referenced or not, whatever the field says', () => {
    const policy = policyOf({ globalPolicy: { maxCheckpointsPerPod: 1, deleteReferencedPodCheckpoints: true } });
    const pinned = archives.map((a, i) => (i < 2 ? { ...a, pinned: true } : a));
    const deleted = plan(policy, new Set([names[0]!, names[2]!]), pinned);
    expect(deleted).not.toContain(names[0]);
    expect(deleted).not.toContain(names[1]);
    expect(deleted).toEqual([names[2], names[3]]);
  });
});
