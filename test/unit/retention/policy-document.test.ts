import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { describePolicy, mergePolicies } from '../../../src/retention/merge-policies.js';
import { parsePolicyDocument, parsePolicyYaml, splitProblems, type PolicyDocument } from '../../../src/retention/policy-document.js';
import { numRuns } from '../../support/properties.js';

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
    maxTotalSizePerContainer: 1.5Mi
    maxCheckpointAge: 7d
  containerPolicies:
    - { namespace: shop, pod: cart-0, container: api, retainOrphan: true, maxCheckpoints: 5, maxCheckpointSize: 1.5Gi, maxTotalSize: 2Gi, maxCheckpointAge: 1h30m }
  podPolicies:
    - { namespace: shop, pod: db-0, maxCheckpoints: 2 }
  namespacePolicies:
    - { namespace: default, maxTotalSize: 10k }
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
        maxTotalSizePerContainer: 1_572_864,
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
      namespacePolicies: [{ namespace: 'default', maxTotalSize: 10_000, source: 'file policy.yaml namespacePolicies[0]' }],
      confinedTo: undefined,
      warnings: [],
    });
  });

  it.each([
    ['a wrong size', 'podPolicies:\n    - { namespace: a, pod: b }\n    - { namespace: a, pod: c }\n    - { namespace: a, pod: d, maxTotalSize: 12Qi }', 'document 0: spec.podPolicies[2].maxTotalSize: "12Qi" is not a Kubernetes quantity'],
    ['a negative count', 'globalPolicy: { maxCheckpointsPerPod: -1 }', 'spec.globalPolicy.maxCheckpointsPerPod: -1 is negative'],
    ['a fractional count', 'containerPolicies: [{ namespace: a, pod: b, container: c, maxCheckpoints: 2.5 }]', 'spec.containerPolicies[0].maxCheckpoints: 2.5 is not a whole number'],
    ['a count as a string', 'globalPolicy: { maxCheckpointsPerContainer: "10" }', 'spec.globalPolicy.maxCheckpointsPerContainer: expected a whole number, got "10"'],
    ['a negative size', 'globalPolicy: { maxCheckpointSize: -4Mi }', 'spec.globalPolicy.maxCheckpointSize: "-4Mi" is negative'],
    ['a fractional byte count', 'namespacePolicies: [{ namespace: a, maxTotalSize: 1.5 }]', 'spec.namespacePolicies[0].maxTotalSize: 1.5 is not a whole number of bytes'],
    ['a fractional byte count with a unit', 'namespacePolicies: [{ namespace: a, maxTotalSize: 0.0001k }]', 'spec.namespacePolicies[0].maxTotalSize: "0.0001k" is not a whole number of bytes'],
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
    const two = parsePolicyYaml(`${header}spec:\n  globalPolicy: { maxCheckpointSize: 12Qi }\n---\n${header}spec:\n  orphanGracePeriod: soon\n`, 'file p.yaml');
    expect(two.ok ? [] : splitProblems(two.reason)).toEqual([
      'file p.yaml: document 0: spec.globalPolicy.maxCheckpointSize: "12Qi" is not a Kubernetes quantity',
      'file p.yaml: document 1: spec.orphanGracePeriod: "soon" is not a duration (use d, h, m, s, e.g. 90m, 7d, 1h30m)',
    ]);
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
    ['an older apiVersion', 'apiVersion: criu.org/v1beta1\nkind: CheckpointRestoreOperator\n', 'apiVersion: expected criu.org/v1, got "criu.org/v1beta1"'],
    ['no kind', 'apiVersion: criu.org/v1\nspec: {}\n', 'kind: is required (CheckpointRestoreOperator)'],
    ['a plural kind', 'apiVersion: criu.org/v1\nkind: CheckpointRestoreOperators\n', 'kind: expected CheckpointRestoreOperator, got "CheckpointRestoreOperators"'],
    ['broken indentation', 'apiVersion: criu.org/v1\nkind: CheckpointRestoreOperator\n  spec: {}\n', 'invalid YAML at line 3, column 7'],
    ['a repeated key', 'apiVersion: criu.org/v1\nkind: CheckpointRestoreOperator\nspec: {}\nspec: {}\n', 'duplicated mapping key'],
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

  it('refuses unknown fields at every level, one line each, with the field most likely meant', () => {
    const parsed = parsePolicyYaml(
      `${header}spec:\n  maxCheckpoints: 3\n  globalPolicy: { maxCheckpointPerContainer: 1 }\n  podPolicies: [{ namespace: a, pod: b, maxCheckpoint: 1 }]\n  diskPresure: {}\nstatus: {}\nextra: 1\n`,
      'file policy.yaml',
    );
    expect(parsed.ok ? [] : splitProblems(parsed.reason)).toEqual([
      'file policy.yaml: document 0: extra: unknown field (known here: apiVersion, kind, metadata, spec, status)',
      'file policy.yaml: document 0: spec.maxCheckpoints: unknown field here; maxCheckpoints is a field of spec.namespacePolicies[] and spec.podPolicies[] and spec.containerPolicies[] (wrong indentation?)',
      'file policy.yaml: document 0: spec.diskPresure: unknown field; did you mean diskPressure?',
      'file policy.yaml: document 0: spec.globalPolicy.maxCheckpointPerContainer: unknown field; did you mean maxCheckpointsPerContainer?',
      'file policy.yaml: document 0: spec.podPolicies[0].maxCheckpoint: unknown field; did you mean maxCheckpoints?',
    ]);
  });

  it.each([
    ['a misspelled limit', 'spec:\n  globalPolicy:\n    maxCheckpointPerContainer: 50\n', 'spec.globalPolicy.maxCheckpointPerContainer: unknown field; did you mean maxCheckpointsPerContainer?'],
    ['a section in lower case', 'spec:\n  globalpolicy:\n    maxCheckpointsPerContainer: 50\n', 'spec.globalpolicy: unknown field; did you mean globalPolicy?'],
    ['a capitalized spec', 'Spec:\n  globalPolicy:\n    maxCheckpointsPerContainer: 50\n', 'Spec: unknown field; did you mean spec?'],
    ['a singular list', 'spec:\n  containerPolicy:\n    - { namespace: a, pod: b, container: c }\n', 'spec.containerPolicy: unknown field; did you mean containerPolicies?'],
    ['a transposition', 'spec:\n  globalPolicy:\n    maxCheckpointsPerContianer: 50\n', 'spec.globalPolicy.maxCheckpointsPerContianer: unknown field; did you mean maxCheckpointsPerContainer?'],
    [
      'a limit one level too shallow',
      'spec:\n  globalPolicy:\n    retainOrphan: true\n  maxCheckpointsPerContainer: 50\n',
      'spec.maxCheckpointsPerContainer: unknown field here; maxCheckpointsPerContainer is a field of spec.globalPolicy (wrong indentation?)',
    ],
    ['a section at the top', 'globalPolicy:\n  maxCheckpointsPerContainer: 50\n', 'globalPolicy: unknown field here; globalPolicy is a field of spec (wrong indentation?)'],
    ['a section left without its fields', 'spec:\n  globalPolicy:\n  maxCheckpointsPerContainer: 50\n', 'spec.globalPolicy: has no value; give it one or remove the key'],
    ['a limit without a value', 'spec:\n  globalPolicy:\n    maxCheckpointsPerContainer:\n', 'spec.globalPolicy.maxCheckpointsPerContainer: has no value; give it one or remove the key'],
    ['a misspelled metadata field', 'metadata:\n  nmae: x\n', 'metadata.nmae: unknown field; did you mean name?'],
    ['a relative directory', 'spec:\n  checkpointDirectory: checkpoints\n', 'spec.checkpointDirectory: "checkpoints" is not an absolute path'],
    ['a grace period past the longest timer', 'spec:\n  orphanGracePeriod: 25d\n', 'spec.orphanGracePeriod: "25d" is longer than the longest timer Node.js supports (24d20h31m23s)'],
  ])('refuses %s', (_name, body, problem) => {
    const parsed = parsePolicyYaml(`apiVersion: criu.org/v1\nkind: CheckpointRestoreOperator\n${body}`, 'file p.yaml');
    expect(parsed.ok ? [] : splitProblems(parsed.reason)).toContain(`file p.yaml: document 0: ${problem}`);
  });

  it('accepts metadata as kubectl and the API server write it, and an empty spec', () => {
    const doc = parseOne(`${header.replace('metadata:\n', 'metadata:\n  creationTimestamp: null\n  labels: { a: b }\n  uid: x\n  resourceVersion: "7"\n  generation: 2\n')}spec:\n`);
    expect([doc.namespace, doc.name, doc.globalPolicy]).toEqual(['ops', 'default', undefined]);
    expect(parseOne(`${header}spec:\n  orphanGracePeriod: 24d20h31m23s\n`).orphanGracePeriodSeconds).toBe(2_147_483);
    expect(parseOne(`${header}spec:\n  globalPolicy: { maxCheckpointAge: 400d }\n`).globalPolicy?.maxCheckpointAgeSeconds).toBe(400 * 86_400);
  });

  it.each([
    ['namespacePolicies: [{ namespace: "shop " }]', 'spec.namespacePolicies[0].namespace: "shop " is not a valid namespace name', 'did you mean "shop"?'],
    ['namespacePolicies: [{ namespace: Shop }]', 'spec.namespacePolicies[0].namespace: "Shop" is not a valid namespace name', 'did you mean "shop"?'],
    ['namespacePolicies: [{ namespace: "sh*p" }]', 'spec.namespacePolicies[0].namespace: "sh*p" is a pattern, not a namespace name', 'globs are not supported'],
    ['podPolicies: [{ namespace: shop, pod: "web-?" }]', 'spec.podPolicies[0].pod: "web-?" is a pattern, not a pod name', ''],
    ['podPolicies: [{ namespace: shop, pod: Web_0 }]', 'spec.podPolicies[0].pod: "Web_0" is not a valid pod name (a DNS-1123 subdomain', ''],
    ['containerPolicies: [{ namespace: shop, pod: web-0, container: api.v2 }]', 'spec.containerPolicies[0].container: "api.v2" is not a valid container name (a DNS-1123 label', ''],
    [`namespacePolicies: [{ namespace: ${'a'.repeat(64)} }]`, 'spec.namespacePolicies[0].namespace: "aaaa', 'is not a valid namespace name'],
  ])('refuses a scope that is not a Kubernetes name: %s', (specBody, start, hint) => {
    const parsed = parsePolicyYaml(`${header}spec:\n  ${specBody}\n`, 'file p.yaml');
    expect(parsed.ok).toBe(false);
    if (parsed.ok) return;
    const [line, ...rest] = splitProblems(parsed.reason);
    expect(rest).toEqual([]);
    expect(line).toContain(`file p.yaml: document 0: ${start}`);
    expect(line).toContain(hint);
  });

  it('accepts dotted pod names, as Kubernetes does', () => {
    expect(parseOne(`${header}spec:\n  podPolicies: [{ namespace: shop, pod: web.v2-0 }]\n`).podPolicies).toHaveLength(1);
  });

  it('reports at most a screenful of problems and counts the rest', () => {
    const entries = Array.from({ length: 30 }, (_, i) => `{ namespace: N${i} }`).join(', ');
    const parsed = parsePolicyYaml(`${header}spec:\n  namespacePolicies: [${entries}]\n`, 'file p.yaml');
    const lines = parsed.ok ? [] : splitProblems(parsed.reason);
    expect(lines).toHaveLength(21);
    expect(lines[20]).toBe('file p.yaml: and 10 more problems');
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
    const policy = mergePolicies([]);
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

  it('takes each global field from the documents that set it, crediting the file first, then objects by namespace/name', () => {
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

  it('merges the entries of one exact scope field by field, each the setting that deletes less, and reports each conflict', () => {
    const policy = mergePolicies([
      cr('ops', 'b', { podPolicies: [{ namespace: 's', pod: 'p', maxCheckpoints: 9, maxTotalSize: '1Gi' }], namespacePolicies: [{ namespace: 'default-x', maxCheckpoints: 4 }] }),
      cr('ops', 'a', { podPolicies: [{ namespace: 's', pod: 'p', maxCheckpoints: 1 }], namespacePolicies: [{ namespace: 'default', maxCheckpoints: 2 }] }),
    ]);
    // ops/a leaves maxTotalSize unset, which in a pod policy means no limit: that deletes less than 1Gi.
    expect(policy.podPolicies).toEqual([
      { namespace: 's', pod: 'p', maxCheckpoints: 9, source: 'CheckpointRestoreOperator ops/b podPolicies[0]', fieldSources: { maxCheckpoints: 'CheckpointRestoreOperator ops/b podPolicies[0]' } },
    ]);
    expect(policy.namespacePolicies.map((p) => p.namespace)).toEqual(['default', 'default-x']);
    expect(policy.conflicts).toEqual([
      {
        field: 'maxCheckpoints',
        scope: 'pod s/p',
        settings: [
          { source: 'CheckpointRestoreOperator ops/a podPolicies[0]', value: 1 },
          { source: 'CheckpointRestoreOperator ops/b podPolicies[0]', value: 9 },
        ],
        applied: { source: 'CheckpointRestoreOperator ops/b podPolicies[0]', value: 9 },
        rule: 'no limit deletes least, then the larger limit',
        message:
          'pod s/p maxCheckpoints is set differently: 1 by CheckpointRestoreOperator ops/a podPolicies[0], 9 by CheckpointRestoreOperator ops/b podPolicies[0]; 9 by CheckpointRestoreOperator ops/b podPolicies[0] applies: no limit deletes least, then the larger limit',
      },
      expect.objectContaining({
        field: 'maxTotalSize',
        scope: 'pod s/p',
        settings: [
          { source: 'CheckpointRestoreOperator ops/a podPolicies[0]', value: null },
          { source: 'CheckpointRestoreOperator ops/b podPolicies[0]', value: 1024 ** 3 },
        ],
        applied: { source: 'CheckpointRestoreOperator ops/a podPolicies[0]', value: null },
      }),
    ]);
  });

  it('takes each diskPressure field at its least-deleting setting; an unset field of a diskPressure block is its default', () => {
    const policy = mergePolicies([cr('z', 'z', { diskPressure: { highThresholdPercent: 95, lowThresholdPercent: 90 } }), cr('a', 'a', { diskPressure: { keepNewestPerContainer: 2 } })]);
    expect(policy.diskPressure).toEqual({
      highThresholdPercent: 95,
      lowThresholdPercent: 90,
      keepNewestPerContainer: 2,
      source: 'CheckpointRestoreOperator z/z diskPressure and CheckpointRestoreOperator a/a diskPressure',
    });
    expect(policy.conflicts?.map((c) => [c.field, c.applied.value])).toEqual([
      ['diskPressure.highThresholdPercent', 95],
      ['diskPressure.lowThresholdPercent', 90],
      ['diskPressure.keepNewestPerContainer', 2],
    ]);
  });

  it('sets no conflict for the same value written twice, and credits the first source', () => {
    const policy = mergePolicies([cr('b', 'b', { globalPolicy: { maxCheckpointsPerPod: 7 }, orphanGracePeriod: '1h' }), file({ globalPolicy: { maxCheckpointsPerPod: 7 }, orphanGracePeriod: '60m' })]);
    expect(policy.conflicts).toEqual([]);
    expect(policy.global.fieldSources?.maxCheckpointsPerPod).toBe('file policy.yaml document 0 globalPolicy');
    expect(policy.settingSources?.orphanGracePeriod).toBe('file policy.yaml document 0');
  });

  it('gives the same policy for any order of the same documents', () => {
    const limits = fc.record(
      { maxCheckpoints: fc.integer({ min: 0, max: 9 }), maxTotalSize: fc.integer({ min: 0, max: 1000 }).map((n) => (n === 0 ? 0 : `${n}Ki`)), retainOrphan: fc.boolean() },
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
      { numRuns: numRuns(300) },
    );
  });
});

describe('sizes carry a unit', () => {
  const withSize = (value: unknown) =>
    parsePolicyDocument({ apiVersion: 'criu.org/v1', kind: 'CheckpointRestoreOperator', spec: { globalPolicy: { maxCheckpointSize: value } } }, 'test');

  it.each([
    ['10Mi', 10 * 1024 ** 2],
    ['10M', 10_000_000],
    ['1Gi', 1024 ** 3],
    ['1.5Gi', 1.5 * 1024 ** 3],
    ['4k', 4000],
    [0, 0],
    ['0', 0],
  ])('accepts %p', (value, bytes) => {
    expect(withSize(value)).toMatchObject({ ok: true, value: { globalPolicy: { maxCheckpointSize: bytes }, warnings: [] } });
  });

  it.each([
    [10, '10 has no unit (the upstream operator documents sizes in megabytes but reads a bare number as bytes): write 10Mi or 10M if megabytes were meant'],
    ['10', '"10" has no unit (the upstream operator documents sizes in megabytes but reads a bare number as bytes): write 10Mi or 10M if megabytes were meant'],
    ['1e3', '"1e3" has no unit (the upstream operator documents sizes in megabytes but reads a bare number as bytes): write it with a unit, e.g. 10Mi or 10M, or 1k for 1000 bytes'],
    [2 * 1024 * 1024, '2097152 has no unit'],
    ['500m', '"500m" is in thousandths of a byte (m is milli): write M for megabytes or Mi for mebibytes'],
    ['10GB', '"10GB" is not a Kubernetes quantity: write G (10^9) or Gi (2^30) instead of GB'],
    ['10K', '"10K" is not a Kubernetes quantity: write k (1000) or Ki (1024) instead of K'],
  ])('refuses %p', (value, message) => {
    const parsed = withSize(value);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.reason).toContain(`test: spec.globalPolicy.maxCheckpointSize: ${message}`);
  });
});

describe('who may set policy', () => {
  const authority = { exporterNamespace: 'checkpoint-exporter' };
  const object = (namespace: string, spec: Record<string, unknown>) =>
    parsePolicyDocument({ apiVersion: 'criu.org/v1', kind: 'CheckpointRestoreOperator', metadata: { namespace, name: 'p' }, spec }, `CheckpointRestoreOperator ${namespace}/p`, {
      origin: 'cluster',
      authority,
    });

  it('lets an object in the exporter namespace set everything', () => {
    const parsed = object('checkpoint-exporter', {
      globalPolicy: { maxCheckpointsPerContainer: 3 },
      diskPressure: {},
      orphanGracePeriod: '1h',
      checkpointDirectory: '/c',
      namespacePolicies: [{ namespace: 'shop', maxCheckpoints: 2 }],
    });
    expect(parsed).toMatchObject({ ok: true, value: { confinedTo: undefined } });
  });

  it('lets an object elsewhere set policies for its own namespace only', () => {
    const parsed = object('shop', {
      applyPoliciesImmediately: true,
      namespacePolicies: [{ namespace: 'shop', maxCheckpoints: 2 }],
      podPolicies: [{ namespace: 'shop', pod: 'web-0', maxCheckpoints: 1 }],
      containerPolicies: [{ namespace: 'shop', pod: 'web-0', container: 'api', maxCheckpoints: 1 }],
    });
    expect(parsed).toMatchObject({ ok: true, value: { confinedTo: 'shop' } });
  });

  it('refuses, as a whole, an object elsewhere that oversteps, one line per overstep', () => {
    const parsed = object('shop', {
      globalPolicy: { maxCheckpointsPerContainer: 3 },
      diskPressure: {},
      orphanGracePeriod: '1h',
      checkpointDirectory: '/c',
      namespacePolicies: [{ namespace: 'shop' }, { namespace: 'payments', maxCheckpoints: 1 }],
      podPolicies: [{ namespace: 'kube-system', pod: 'etcd-0', maxCheckpoints: 1 }],
    });
    expect(parsed.ok ? [] : splitProblems(parsed.reason)).toEqual([
      "CheckpointRestoreOperator shop/p: spec.globalPolicy: only the policy file or an object in the exporter's namespace checkpoint-exporter may set the global policy; this object is in namespace shop",
      "CheckpointRestoreOperator shop/p: spec.diskPressure: only the policy file or an object in the exporter's namespace checkpoint-exporter may set disk-pressure cleanup; this object is in namespace shop",
      "CheckpointRestoreOperator shop/p: spec.orphanGracePeriod: only the policy file or an object in the exporter's namespace checkpoint-exporter may set the orphan grace period; this object is in namespace shop",
      "CheckpointRestoreOperator shop/p: spec.checkpointDirectory: only the policy file or an object in the exporter's namespace checkpoint-exporter may set the checkpoint directory; this object is in namespace shop",
      "CheckpointRestoreOperator shop/p: spec.podPolicies[0].namespace: \"kube-system\" is another namespace: an object in namespace shop may set policies only for shop (objects in the exporter's namespace checkpoint-exporter may set any)",
      "CheckpointRestoreOperator shop/p: spec.namespacePolicies[1].namespace: \"payments\" is another namespace: an object in namespace shop may set policies only for shop (objects in the exporter's namespace checkpoint-exporter may set any)",
    ]);
  });

  it('does not confine the policy file, whatever namespace its metadata names', () => {
    const parsed = parsePolicyDocument(
      { apiVersion: 'criu.org/v1', kind: 'CheckpointRestoreOperator', metadata: { namespace: 'shop' }, spec: { globalPolicy: { maxCheckpointsPerContainer: 3 } } },
      'file p.yaml',
      { origin: 'file', authority },
    );
    expect(parsed).toMatchObject({ ok: true, value: { confinedTo: undefined } });
  });

  it('ranks the exporter namespace above every other namespace, whatever the names', () => {
    const valid = (namespace: string, name: string, spec: Record<string, unknown>): PolicyDocument => {
      const parsed = parsePolicyDocument({ apiVersion: 'criu.org/v1', kind: 'CheckpointRestoreOperator', metadata: { namespace, name }, spec }, `CheckpointRestoreOperator ${namespace}/${name}`, {
        origin: 'cluster',
        authority,
      });
      if (!parsed.ok) throw new Error(parsed.reason);
      return parsed.value;
    };
    const policy = mergePolicies([
      valid('a', 'aaa', { namespacePolicies: [{ namespace: 'a', maxCheckpoints: 5 }] }),
      valid('checkpoint-exporter', 'zzz', { namespacePolicies: [{ namespace: 'a', maxCheckpoints: 5 }] }),
    ]);
    // The same setting twice: the higher-ranked object is credited with it.
    const zzz = 'CheckpointRestoreOperator checkpoint-exporter/zzz namespacePolicies[0]';
    expect(policy.namespacePolicies).toEqual([{ namespace: 'a', maxCheckpoints: 5, source: zzz, fieldSources: { maxCheckpoints: zzz } }]);
    expect(policy.conflicts).toEqual([]);
  });

  it('ranks the documents of the file in the order they are written', () => {
    const parsed = parsePolicyYaml(
      'apiVersion: criu.org/v1\nkind: CheckpointRestoreOperator\nmetadata: { name: zzz }\nspec: { checkpointDirectory: /a }\n---\napiVersion: criu.org/v1\nkind: CheckpointRestoreOperator\nmetadata: { name: aaa }\nspec: { checkpointDirectory: /b }\n',
      'file p.yaml',
    );
    if (!parsed.ok) throw new Error(parsed.reason);
    // The directory is no limit: the first document sets it, and the other one is reported.
    const policy = mergePolicies(parsed.value);
    expect(policy.checkpointDirectory).toBe('/a');
    expect(policy.conflicts).toMatchObject([{ field: 'checkpointDirectory', scope: 'node', applied: { value: '/a', source: 'file p.yaml document 0' } }]);
  });
});
