import { describe, expect, it } from '@jest/globals';
import { describePolicy, mergePolicies } from '../../../src/retention/merge-policies.js';
import { parsePolicyDocument, parsePolicyYaml, splitProblems, type PolicyDocument } from '../../../src/retention/policy-document.js';

/** `deleteUnrestorableFirst`: parsed, refused when mistyped, merged like every other field, shown with its source. */

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

describe('deleteUnrestorableFirst', () => {
  it('is off by default', () => {
    expect(mergePolicies([]).global.deleteUnrestorableFirst).toBe(false);
    expect(describePolicy(mergePolicies([])).globalPolicy.deleteUnrestorableFirst).toEqual({ value: false, source: 'default' });
  });

  it('is read in the global policy and in every specific policy', () => {
    const [doc] = parseFile(
      [
        '  globalPolicy: { maxCheckpointsPerContainer: 5, deleteUnrestorableFirst: true }',
        '  containerPolicies:',
        '    - { namespace: shop, pod: cart-0, container: api, maxCheckpoints: 3, deleteUnrestorableFirst: false }',
        '  podPolicies:',
        '    - { namespace: shop, pod: db-0, maxCheckpoints: 2, deleteUnrestorableFirst: true }',
        '  namespacePolicies:',
        '    - { namespace: batch, maxCheckpoints: 9 }',
        '',
      ].join('\n'),
    );
    expect(doc?.globalPolicy).toMatchObject({ maxCheckpointsPerContainer: 5, deleteUnrestorableFirst: true });
    expect(doc?.containerPolicies[0]).toMatchObject({ maxCheckpoints: 3, deleteUnrestorableFirst: false });
    expect(doc?.podPolicies[0]).toMatchObject({ maxCheckpoints: 2, deleteUnrestorableFirst: true });
    // Unset in a specific policy means off, like every unset field there.
    expect(doc?.namespacePolicies[0]).not.toHaveProperty('deleteUnrestorableFirst');

    const policy = mergePolicies(doc === undefined ? [] : [doc]);
    expect(policy.global.deleteUnrestorableFirst).toBe(true);
    const described = describePolicy(policy);
    expect(described.globalPolicy.deleteUnrestorableFirst).toEqual({ value: true, source: 'file policy.yaml globalPolicy' });
    expect(described.containerPolicies[0]).toMatchObject({ deleteUnrestorableFirst: false });
    expect(described.namespacePolicies[0]).toMatchObject({ deleteUnrestorableFirst: null });
  });

  it.each([
    ['a string', 'globalPolicy:\n    deleteUnrestorableFirst: "yes"', 'spec.globalPolicy.deleteUnrestorableFirst: expected true or false, got "yes"'],
    ['a number', 'containerPolicies:\n    - { namespace: a, pod: b, container: c, deleteUnrestorableFirst: 1 }', 'spec.containerPolicies[0].deleteUnrestorableFirst: expected true or false, got number 1'],
    ['no value', 'globalPolicy:\n    deleteUnrestorableFirst:', 'spec.globalPolicy.deleteUnrestorableFirst: has no value'],
    ['a misspelling', 'globalPolicy:\n    deleteUnrestoreableFirst: true', 'did you mean deleteUnrestorableFirst?'],
    ['the wrong level', 'deleteUnrestorableFirst: true', 'deleteUnrestorableFirst is a field of spec.globalPolicy'],
  ])('refuses the whole document for %s', (_label, spec, problem) => {
    const parsed = parsePolicyYaml(`${header}spec:\n  ${spec}\n`, 'file policy.yaml');
    expect(parsed.ok).toBe(false);
    if (parsed.ok) return;
    expect(splitProblems(parsed.reason).some((line) => line.includes(problem))).toBe(true);
  });

  it('is won field by field like every global field: the file first, then cluster objects', () => {
    const file = parseFile('  globalPolicy: { maxCheckpointsPerContainer: 4 }\n');
    const object = cluster('checkpoint-exporter', 'a', { globalPolicy: { deleteUnrestorableFirst: true } });
    const policy = mergePolicies([object, ...file]);
    expect(policy.global).toMatchObject({ maxCheckpointsPerContainer: 4, deleteUnrestorableFirst: true });
    expect(policy.global.fieldSources?.deleteUnrestorableFirst).toBe('CheckpointRestoreOperator checkpoint-exporter/a globalPolicy');
  });

  it('may be set by an object in another namespace for its own scopes, not globally', () => {
    expect(cluster('shop', 'own', { namespacePolicies: [{ namespace: 'shop', maxCheckpoints: 3, deleteUnrestorableFirst: true }] }).namespacePolicies[0]).toMatchObject({
      deleteUnrestorableFirst: true,
    });
    expect(() => cluster('shop', 'global', { globalPolicy: { deleteUnrestorableFirst: true } })).toThrow('only the policy file or an object in the exporter');
  });
});
