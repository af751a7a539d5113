import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { describePolicy, defaultRetentionPolicy, mergePolicies } from '../../../src/retention/merge-policies.js';
import { parsePolicyDocument, parsePolicyYaml, type PolicyDocument } from '../../../src/retention/policy-document.js';

const header = 'apiVersion: criu.org/v1\nkind: CheckpointRestoreOperator\nmetadata:\n  namespace: ops\n  name: default\n';

function parseOne(yamlText: string): PolicyDocument {
  const parsed = parsePolicyYaml(yamlText, 'file policy.yaml');
  if (!parsed.ok) throw new Error(parsed.reason);
  expect(parsed.value).toHaveLength(1);
  return parsed.value[0]!;
}

describe('parsePolicyYaml', () => {
  it('reads every upstream field and every extension, normalized to bytes and seconds', () => {
    const doc = parseOne(`${header}spec:
  checkpointDirectory: /var/lib/kubelet/checkpoints
  applyPoliciesImmediately: true
  orphanGracePeriod: 0s
  diskPressure: { highThresholdPercent: 90, lowThresholdPercent: 75, keepNewestPerContainer: 2 }
  globalPolicy:
    retainOrphan: false
    maxCheckpointsPerNamespace: 50
    maxCheckpointsPerPod: 30
    maxCheckpointsPerContainer: 10
    maxCheckpointSize: 4Mi
    maxTotalSizePerNamespace: 1Gi
    maxTotalSizePerPod: 500M
    maxTotalSizePerContainer: 1048576
    maxCheckpointAge: 7d
  containerPolicies:
    - { namespace: shop, pod: cart-0, container: api, retainOrphan: true, maxCheckpoints: 5, maxCheckpointSize: 1.5Gi, maxTotalSize: 2Gi, maxCheckpointAge: 1h30m }
  podPolicies:
    - { namespace: shop, pod: db-0, maxCheckpoints: 2 }
  namespacePolicies:
    - { namespace: default, maxTotalSize: 10 }
`);
    expect(doc).toEqual({
      source: 'file policy.yaml',
      origin: 'file',
      namespace: 'ops',
      name: 'default',
      index: 0,
      checkpointDirectory: '/var/lib/kubelet/checkpoints',
      applyPoliciesImmediately: true,
      orphanGracePeriodSeconds: 0,
      diskPressure: { highThresholdPercent: 90, lowThresholdPercent: 75, keepNewestPerContainer: 2, source: 'file policy.yaml diskPressure' },
      globalPolicy: {
        retainOrphan: false,
        maxCheckpointsPerNamespace: 50,
        maxCheckpointsPerPod: 30,
        maxCheckpointsPerContainer: 10,
        maxCheckpointSize: 4 * 1024 ** 2,
        maxTotalSizePerNamespace: 1024 ** 3,
        maxTotalSizePerPod: 500_000_000,
        maxTotalSizePerContainer: 1_048_576,
        maxCheckpointAgeSeconds: 604_800,
        source: 'file policy.yaml globalPolicy',
      },
      containerPolicies: [
        {
          namespace: 'shop',
          pod: 'cart-0',
          container: 'api',
          retainOrphan: true,
          maxCheckpoints: 5,
          maxCheckpointSize: 1.5 * 1024 ** 3,
          maxTotalSize: 2 * 1024 ** 3,
          maxCheckpointAgeSeconds: 5400,
          source: 'file policy.yaml containerPolicies[0]',
        },
      ],
      podPolicies: [{ namespace: 'shop', pod: 'db-0', maxCheckpoints: 2, source: 'file policy.yaml podPolicies[0]' }],
      namespacePolicies: [{ namespace: 'default', maxTotalSize: 10, source: 'file policy.yaml namespacePolicies[0]' }],
      warnings: [
        "spec.namespacePolicies[0].maxTotalSize: 10 means 10 bytes (the upstream operator read bare numbers as megabytes; write 10Mi if that was meant)",
      ],
    });
  });

  it.each([
    ['a wrong size', 'podPolicies:\n    - { namespace: a, pod: b }\n    - { namespace: a, pod: c }\n    - { namespace: a, pod: d, maxTotalSize: 12Qi }', 'document 0: spec.podPolicies[2].maxTotalSize: "12Qi" is not a Kubernetes quantity'],
    ['a negative count', 'globalPolicy: { maxCheckpointsPerPod: -1 }', 'spec.globalPolicy.maxCheckpointsPerPod: -1 is negative'],
    ['a fractional count', 'containerPolicies: [{ namespace: a, pod: b, container: c, maxCheckpoints: 2.5 }]', 'spec.containerPolicies[0].maxCheckpoints: 2.5 is not a whole number'],
    ['a count as a string', 'globalPolicy: { maxCheckpointsPerContainer: "10" }', 'spec.globalPolicy.maxCheckpointsPerContainer: expected a whole number, got "10"'],
    ['a negative size', 'globalPolicy: { maxCheckpointSize: -4Mi }', 'spec.globalPolicy.maxCheckpointSize: "-4Mi" is negative'],
    ['a fractional byte count', 'namespacePolicies: [{ namespace: a, maxTotalSize: 1.5 }]', 'spec.namespacePolicies[0].maxTotalSize: 1.5 is not a whole number of bytes'],
    ['a bad duration', 'globalPolicy: { maxCheckpointAge: 1w }', 'spec.globalPolicy.maxCheckpointAge: "1w" is not a duration'],
    ['a bad grace', 'orphanGracePeriod: 600', 'spec.orphanGracePeriod: expected a duration string'],
    ['a boolean as text', 'globalPolicy: { retainOrphan: "no" }', 'spec.globalPolicy.retainOrphan: expected true or false, got "no"'],
    ['a missing scope name', 'podPolicies: [{ namespace: a }]', 'spec.podPolicies[0].pod: is required'],
    ['an empty scope name', 'containerPolicies: [{ namespace: a, pod: "", container: c }]', 'spec.containerPolicies[0].pod: expected a non-empty name, got ""'],
    ['a repeated scope', 'namespacePolicies: [{ namespace: a }, { namespace: b }, { namespace: a }]', 'spec.namespacePolicies[2]: repeats the scope a of spec.namespacePolicies[0]'],
    ['a list that is a mapping', 'podPolicies: { namespace: a }', 'spec.podPolicies: expected a list, got a mapping'],
    ['a low mark above the high mark', 'diskPressure: { highThresholdPercent: 70 }', 'spec.diskPressure.lowThresholdPercent: 80 is above highThresholdPercent 70'],
    ['a percentage out of range', 'diskPressure: { highThresholdPercent: 100 }', 'spec.diskPressure.highThresholdPercent: 100 is not between 0 and 100'],
  ])('names the field for %s', (_name, specBody, message) => {
    const parsed = parsePolicyYaml(`${header}spec:\n  ${specBody}\n`, 'file policy.yaml');
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) {
      expect(parsed.reason).toContain(message);
      expect(parsed.reason).toMatch(/^file policy\.yaml: document 0: /);
    }
  });

  it('names the document index in a multi-document stream, and refuses the whole stream', () => {
    const good = `${header}spec: {}\n`;
    const parsed = parsePolicyYaml(`${good}---\n---\n${good.replace('default', 'second')}---\n${header}spec:\n  globalPolicy: { maxCheckpointSize: 12Qi }\n`, 'file p.yaml');
    expect(parsed).toEqual({ ok: false, reason: 'file p.yaml: document 3: spec.globalPolicy.maxCheckpointSize: "12Qi" is not a Kubernetes quantity' });
  });

  it('skips empty documents and names documents by index when there are several', () => {
    const parsed = parsePolicyYaml(`---\n${header}spec: {}\n---\n# only a comment\n---\n${header.replace('default', 'other')}spec: {}\n`, 'file p.yaml');
    expect(parsed.ok && parsed.value.map((d) => [d.source, d.index, d.name])).toEqual([
      ['file p.yaml document 0', 0, 'default'],
      ['file p.yaml document 2', 2, 'other'],
    ]);
  });

  it.each([
    ['wrong kind', 'apiVersion: criu.org/v1\nkind: ConfigMap\n', 'kind: expected CheckpointRestoreOperator, got "ConfigMap"'],
    ['wrong apiVersion', 'apiVersion: v1\nkind: CheckpointRestoreOperator\n', 'apiVersion: expected criu.org/v1, got "v1"'],
    ['a scalar document', 'just text\n', '(document): expected a mapping, got "just text"'],
    ['broken YAML', 'spec: [unclosed\n', 'invalid YAML'],
  ])('refuses %s', (_name, text, message) => {
    const parsed = parsePolicyYaml(text, 'file p.yaml');
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.reason).toContain(message);
  });

  it('accepts an empty stream as no documents', () => {
    expect(parsePolicyYaml('', 'file p.yaml')).toEqual({ ok: true, value: [] });
  });

  it('turns unknown fields into warnings, not errors, and applies nothing from them', () => {
    const doc = parseOne(`${header}spec:\n  maxCheckpoints: 3\n  globalPolicy: { maxCheckpointPerContainer: 1 }\n  podPolicies: [{ namespace: a, pod: b, maxCheckpoint: 1 }]\nstatus: {}\nextra: 1\n`);
    expect(doc.warnings).toEqual([
      '(document).extra: unknown field, ignored',
      'spec.maxCheckpoints: unknown field, ignored',
      'spec.globalPolicy.maxCheckpointPerContainer: unknown field, ignored',
      'spec.podPolicies[0].maxCheckpoint: unknown field, ignored',
    ]);
    expect(doc.podPolicies).toEqual([{ namespace: 'a', pod: 'b', source: 'file policy.yaml podPolicies[0]' }]);
    expect(mergePolicies([doc]).global.maxCheckpointsPerContainer).toBe(10);
  });
});

describe('parsePolicyDocument', () => {
  it('validates a cluster object and prefixes problems with its source', () => {
    const object = { apiVersion: 'criu.org/v1', kind: 'CheckpointRestoreOperator', metadata: { namespace: 'ops', name: 'x' }, spec: { globalPolicy: { maxCheckpointsPerPod: 1.5 } } };
    expect(parsePolicyDocument(object, 'CheckpointRestoreOperator ops/x')).toEqual({
      ok: false,
      reason: 'CheckpointRestoreOperator ops/x: spec.globalPolicy.maxCheckpointsPerPod: 1.5 is not a whole number',
    });
    const fine = parsePolicyDocument({ ...object, spec: {} }, 'CheckpointRestoreOperator ops/x');
    expect(fine.ok && [fine.value.origin, fine.value.namespace, fine.value.name]).toEqual(['cluster', 'ops', 'x']);
  });
});

function cr(namespace: string, name: string, spec: Record<string, unknown>): PolicyDocument {
  const parsed = parsePolicyDocument({ apiVersion: 'criu.org/v1', kind: 'CheckpointRestoreOperator', metadata: { namespace, name }, spec }, `CheckpointRestoreOperator ${namespace}/${name}`);
  if (!parsed.ok) throw new Error(parsed.reason);
  return parsed.value;
}

function file(spec: Record<string, unknown>, index = 0): PolicyDocument {
  const parsed = parsePolicyDocument({ apiVersion: 'criu.org/v1', kind: 'CheckpointRestoreOperator', spec }, `file policy.yaml document ${index}`, { origin: 'file', index });
  if (!parsed.ok) throw new Error(parsed.reason);
  return parsed.value;
}

describe('mergePolicies', () => {
  it('has built-in defaults: 10 per container and nothing else, orphans retained, 10m grace', () => {
    const policy = defaultRetentionPolicy();
    expect(policy).toMatchObject({
      checkpointDirectory: undefined,
      global: { retainOrphan: true, maxCheckpointsPerContainer: 10, maxCheckpointsPerPod: 0, maxCheckpointsPerNamespace: 0, maxCheckpointSize: 0, maxCheckpointAgeSeconds: 0, source: 'default' },
      namespacePolicies: [],
      podPolicies: [],
      containerPolicies: [],
      diskPressure: undefined,
      orphanGracePeriodSeconds: 600,
    });
  });

  it('takes each global field from the first document in precedence order: file, then objects by namespace/name', () => {
    const docs = [
      cr('b', 'z', { globalPolicy: { maxCheckpointsPerPod: 1, maxCheckpointSize: '1Mi', retainOrphan: false } }),
      cr('a', 'y', { globalPolicy: { maxCheckpointsPerPod: 2 }, orphanGracePeriod: '1h' }),
      file({ globalPolicy: { maxCheckpointsPerContainer: 3 }, checkpointDirectory: '/c' }),
    ];
    const policy = mergePolicies(docs);
    expect(policy.global).toMatchObject({ maxCheckpointsPerContainer: 3, maxCheckpointsPerPod: 2, maxCheckpointSize: 1024 ** 2, retainOrphan: false, source: 'file policy.yaml document 0 globalPolicy' });
    expect(describePolicy(policy)).toMatchObject({
      checkpointDirectory: { value: '/c', source: 'file policy.yaml document 0' },
      orphanGracePeriod: { value: '1h', seconds: 3600, source: 'CheckpointRestoreOperator a/y' },
      globalPolicy: {
        maxCheckpointsPerContainer: { value: 3, source: 'file policy.yaml document 0 globalPolicy' },
        maxCheckpointsPerPod: { value: 2, source: 'CheckpointRestoreOperator a/y globalPolicy' },
        maxCheckpointSize: { value: 1024 ** 2, source: 'CheckpointRestoreOperator b/z globalPolicy' },
        retainOrphan: { value: false, source: 'CheckpointRestoreOperator b/z globalPolicy' },
        maxCheckpointsPerNamespace: { value: 0, source: 'default' },
      },
    });
  });

  it('keeps the first specific policy per exact scope as a whole, never mixing fields', () => {
    const policy = mergePolicies([
      cr('ops', 'b', { podPolicies: [{ namespace: 's', pod: 'p', maxCheckpoints: 9, maxTotalSize: '1Gi' }], namespacePolicies: [{ namespace: 'default-x', maxCheckpoints: 4 }] }),
      cr('ops', 'a', { podPolicies: [{ namespace: 's', pod: 'p', maxCheckpoints: 1 }], namespacePolicies: [{ namespace: 'default', maxCheckpoints: 2 }] }),
    ]);
    expect(policy.podPolicies).toEqual([{ namespace: 's', pod: 'p', maxCheckpoints: 1, source: 'CheckpointRestoreOperator ops/a podPolicies[0]' }]);
    expect(policy.namespacePolicies.map((p) => p.namespace)).toEqual(['default', 'default-x']);
  });

  it('takes diskPressure whole from the first document that sets it', () => {
    const policy = mergePolicies([cr('z', 'z', { diskPressure: { highThresholdPercent: 95, lowThresholdPercent: 90 } }), cr('a', 'a', { diskPressure: {} })]);
    expect(policy.diskPressure).toEqual({ highThresholdPercent: 85, lowThresholdPercent: 80, keepNewestPerContainer: 1, source: 'CheckpointRestoreOperator a/a diskPressure' });
  });

  it('gives the same policy for any order of the same documents', () => {
    const limits = fc.record(
      { maxCheckpoints: fc.integer({ min: 0, max: 9 }), maxTotalSize: fc.integer({ min: 0, max: 1000 }), retainOrphan: fc.boolean() },
      { requiredKeys: [] },
    );
    const specArb = fc.record(
      {
        globalPolicy: fc.record({ maxCheckpointsPerPod: fc.integer({ min: 0, max: 9 }), retainOrphan: fc.boolean(), maxCheckpointAge: fc.constantFrom('1h', '2d') }, { requiredKeys: [] }),
        namespacePolicies: fc.uniqueArray(fc.record({ namespace: fc.constantFrom('a', 'b', 'c') }).chain((s) => limits.map((l) => ({ ...s, ...l }))), { selector: (p) => p.namespace }),
        podPolicies: fc.uniqueArray(fc.record({ namespace: fc.constantFrom('a', 'b'), pod: fc.constantFrom('p', 'q') }).chain((s) => limits.map((l) => ({ ...s, ...l }))), {
          selector: (p) => `${p.namespace}/${p.pod}`,
        }),
        diskPressure: fc.record({ keepNewestPerContainer: fc.integer({ min: 0, max: 3 }) }),
        orphanGracePeriod: fc.constantFrom('0s', '5m'),
        checkpointDirectory: fc.constantFrom('/a', '/b'),
      },
      { requiredKeys: [] },
    );
    const docArb = fc.oneof(
      fc.tuple(fc.constantFrom('ops', 'kube-system'), fc.constantFrom('x', 'y', 'z'), specArb).map(([ns, name, spec]) => cr(ns, name, spec)),
      fc.tuple(fc.integer({ min: 0, max: 2 }), specArb).map(([index, spec]) => file(spec, index)),
    );
    fc.assert(
      fc.property(fc.array(docArb, { maxLength: 6 }).chain((docs) => fc.tuple(fc.constant(docs), fc.shuffledSubarray(docs, { minLength: docs.length, maxLength: docs.length }))), ([docs, shuffled]) => {
        expect(mergePolicies(shuffled)).toEqual(mergePolicies(docs));
      }),
      { numRuns: 300 },
    );
  });
});

describe('upstream megabyte sizes', () => {
  it.each([
    [8, true],
    ['8', true],
    ['8Mi', false],
    [0, false],
    [2 * 1024 * 1024, false],
  ])('maxCheckpointSize %p warns about bare small numbers: %p', (value, warns) => {
    const parsed = parsePolicyDocument(
      { apiVersion: 'criu.org/v1', kind: 'CheckpointRestoreOperator', spec: { globalPolicy: { maxCheckpointSize: value } } },
      'test',
    );
    expect(parsed.ok).toBe(true);
    if (!parsed.ok) return;
    expect(parsed.value.globalPolicy?.maxCheckpointSize).toBe(typeof value === 'number' ? value : value === '8' ? 8 : 8 * 1024 * 1024);
    expect(parsed.value.warnings.some((w) => w.includes('spec.globalPolicy.maxCheckpointSize') && w.includes('megabytes'))).toBe(warns);
  });
});
