import { beforeAll, describe, expect, it } from '@jest/globals';
import type { ValidateFunction } from 'ajv';
import fc from 'fast-check';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parsePolicyDocument, splitProblems } from '../../src/retention/policy-document.js';
import { compileCrdSchema, loadCrd, walkSchema, type Crd } from './support/crd-schema.js';
import { readObjects } from './support/kustomize-walker.js';
import type { KubeObject } from './support/kube-object.js';
import { numRuns } from '../support/properties.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const FIXTURES = path.join(ROOT, 'test', 'manifests', 'fixtures');

let crd: Crd;
let validate: ValidateFunction;

beforeAll(async () => {
  crd = await loadCrd(ROOT);
  validate = compileCrdSchema(crd);
});

async function readOne(file: string): Promise<KubeObject> {
  const [object, ...rest] = await readObjects(file);
  if (object === undefined || rest.length > 0) throw new Error(`${file} must hold exactly one object`);
  return object;
}

function schemaErrors(document: unknown): Array<{ instancePath: string; keyword: string }> {
  if (validate(document)) return [];
  return (validate.errors ?? []).map(({ instancePath, keyword }) => ({ instancePath, keyword }));
}

function withSpec(spec: Record<string, unknown>): KubeObject {
  return { apiVersion: 'criu.org/v1', kind: 'CheckpointRestoreOperator', metadata: { name: 'generated', namespace: 'default' }, spec };
}

describe('CheckpointRestoreOperator CRD', () => {
  it('defines criu.org/v1 CheckpointRestoreOperator, namespaced, served and stored, with a status subresource', () => {
    expect(crd.metadata.name).toBe('checkpointrestoreoperators.criu.org');
    expect(crd.spec.group).toBe('criu.org');
    expect(crd.spec.scope).toBe('Namespaced');
    expect(crd.spec.names).toEqual({
      kind: 'CheckpointRestoreOperator',
      listKind: 'CheckpointRestoreOperatorList',
      plural: 'checkpointrestoreoperators',
      singular: 'checkpointrestoreoperator',
    });
    expect(crd.spec.versions.map(({ name, served, storage }) => ({ name, served, storage }))).toEqual([{ name: 'v1', served: true, storage: true }]);
    expect(crd.spec.versions[0]?.subresources).toEqual({ status: {} });
  });

  it('has a structural schema: every node typed, every quantity and duration constrained, no unknown field kept', () => {
    const schema = crd.spec.versions[0]?.schema.openAPIV3Schema ?? {};
    const problems: string[] = [];
    for (const { path: at, node } of walkSchema(schema)) {
      const intOrString = node['x-kubernetes-int-or-string'] === true;
      if (node['type'] === undefined && !intOrString) problems.push(`${at}: no type`);
      if (node['x-kubernetes-preserve-unknown-fields'] !== undefined) problems.push(`${at}: preserves unknown fields, so a misspelled field would be stored`);
      if (intOrString && typeof node['pattern'] !== 'string') problems.push(`${at}: int-or-string without pattern`);
      // An integer size is a bare number of bytes: only 0 is allowed without a unit.
      if (intOrString && (node['minimum'] !== 0 || node['maximum'] !== 0)) problems.push(`${at}: int-or-string without minimum 0 and maximum 0`);
      if (node['$ref'] !== undefined) problems.push(`${at}: $ref is not allowed in CRD schemas`);
      if (/Age$|GracePeriod$/.test(at) && typeof node['pattern'] !== 'string') problems.push(`${at}: duration without pattern`);
    }
    expect(problems).toEqual([]);
  });

  it('keeps one entry per scope: the policy lists are maps keyed by their scope fields', () => {
    const spec = crd.spec.versions[0]?.schema.openAPIV3Schema['properties'] as Record<string, { properties: Record<string, Record<string, unknown>> }>;
    const lists = spec['spec']?.properties ?? {};
    expect(
      Object.fromEntries(
        ['namespacePolicies', 'podPolicies', 'containerPolicies'].map((list) => [list, [lists[list]?.['x-kubernetes-list-type'], lists[list]?.['x-kubernetes-list-map-keys']]]),
      ),
    ).toEqual({
      namespacePolicies: ['map', ['namespace']],
      podPolicies: ['map', ['namespace', 'pod']],
      containerPolicies: ['map', ['namespace', 'pod', 'container']],
    });
    // List-map keys must be required, or the API server refuses the CRD.
    for (const list of ['namespacePolicies', 'podPolicies', 'containerPolicies']) {
      const items = lists[list]?.['items'] as { required: string[] };
      expect(items.required).toEqual(lists[list]?.['x-kubernetes-list-map-keys']);
    }
  });

  it('declares every upstream field and exactly our extensions', () => {
    const spec = crd.spec.versions[0]?.schema.openAPIV3Schema['properties'] as Record<string, { properties: Record<string, { properties?: object; items?: { properties: object } }> }>;
    const fields = spec['spec']?.properties ?? {};
    const keys = (value: object | undefined): string[] => Object.keys(value ?? {}).sort();
    const limits = ['deleteUnrestorableFirst', 'maxCheckpointAge', 'maxCheckpointSize', 'maxCheckpoints', 'maxTotalSize', 'retainOrphan'];
    expect(keys(fields)).toEqual(
      ['applyPoliciesImmediately', 'checkpointDirectory', 'containerPolicies', 'diskPressure', 'globalPolicy', 'namespacePolicies', 'orphanGracePeriod', 'podPolicies'].sort(),
    );
    expect(keys(fields['globalPolicy']?.properties)).toEqual(
      [
        'retainOrphan',
        'maxCheckpointsPerNamespace',
        'maxCheckpointsPerPod',
        'maxCheckpointsPerContainer',
        'maxCheckpointSize',
        'maxTotalSizePerNamespace',
        'maxTotalSizePerPod',
        'maxTotalSizePerContainer',
        'maxCheckpointAge',
        'deleteUnrestorableFirst',
        'deleteReferencedPodCheckpoints',
      ].sort(),
    );
    expect(keys(fields['containerPolicies']?.items?.properties)).toEqual(['container', 'namespace', 'pod', ...limits].sort());
    expect(keys(fields['podPolicies']?.items?.properties)).toEqual(['namespace', 'pod', ...limits].sort());
    expect(keys(fields['namespacePolicies']?.items?.properties)).toEqual(['namespace', ...limits].sort());
    expect(keys(fields['diskPressure']?.properties)).toEqual(['highThresholdPercent', 'keepNewestPerContainer', 'lowThresholdPercent']);
  });

  it.each([
    ['the upstream sample with its sizes given units', path.join(FIXTURES, 'valid', 'upstream-with-units.yaml')],
    ['our extensions', path.join(FIXTURES, 'valid', 'extensions.yaml')],
    ['no spec', path.join(FIXTURES, 'valid', 'minimal.yaml')],
    ['the shipped sample policy', path.join(ROOT, 'manifests', 'samples', 'checkpointrestoreoperator.yaml')],
  ])('accepts %s, and so does the exporter', async (_name, file) => {
    const document = await readOne(file);
    expect(schemaErrors(document)).toEqual([]);
    expect(parsePolicyDocument(document, file)).toMatchObject({ ok: true, value: { warnings: [] } });
  });

  it('refuses the upstream sample with bare sizes, field by field, and the exporter says what to write', async () => {
    const document = await readOne(path.join(FIXTURES, 'invalid', 'upstream-bare-sizes.yaml'));
    const bare = ['/spec/globalPolicy/maxCheckpointSize', '/spec/globalPolicy/maxTotalSizePerNamespace', '/spec/containerPolicies/0/maxCheckpointSize', '/spec/containerPolicies/0/maxTotalSize'];
    expect(schemaErrors(document).filter((e) => e.keyword === 'maximum')).toEqual(bare.map((instancePath) => ({ instancePath, keyword: 'maximum' })));
    const parsed = parsePolicyDocument(document, 'sample');
    expect(parsed.ok).toBe(false);
    if (parsed.ok) return;
    expect(splitProblems(parsed.reason)).toEqual([
      'sample: spec.globalPolicy.maxCheckpointSize: 10 has no unit (the upstream operator documents sizes in megabytes but reads a bare number as bytes): write 10Mi or 10M if megabytes were meant',
      'sample: spec.globalPolicy.maxTotalSizePerNamespace: 1000 has no unit (the upstream operator documents sizes in megabytes but reads a bare number as bytes): write 1000Mi or 1000M if megabytes were meant, or 1k for 1000 bytes',
      'sample: spec.containerPolicies[0].maxCheckpointSize: 6 has no unit (the upstream operator documents sizes in megabytes but reads a bare number as bytes): write 6Mi or 6M if megabytes were meant',
      'sample: spec.containerPolicies[0].maxTotalSize: 20 has no unit (the upstream operator documents sizes in megabytes but reads a bare number as bytes): write 20Mi or 20M if megabytes were meant',
    ]);
  });

  it.each([
    { name: 'a negative count', file: 'negative-count.yaml', at: '/spec/globalPolicy/maxCheckpointsPerContainer', keyword: 'minimum', exporter: 'rejects' },
    { name: 'a quantity with a unit Kubernetes does not know', file: 'bad-quantity.yaml', at: '/spec/podPolicies/0/maxTotalSize', keyword: 'pattern', exporter: 'rejects' },
    { name: 'a negative quantity', file: 'negative-quantity.yaml', at: '/spec/globalPolicy/maxCheckpointSize', keyword: 'pattern', exporter: 'rejects' },
    { name: 'a duration in words', file: 'bad-duration.yaml', at: '/spec/globalPolicy/maxCheckpointAge', keyword: 'pattern', exporter: 'rejects' },
    { name: 'a container policy without container', file: 'missing-container.yaml', at: '/spec/containerPolicies/0', keyword: 'required', exporter: 'rejects' },
    { name: 'a misspelled field', file: 'misspelled-field.yaml', at: '/spec/globalPolicy', keyword: 'additionalProperties', exporter: 'rejects' },
    { name: 'a misspelled section', file: 'misspelled-section.yaml', at: '/spec', keyword: 'additionalProperties', exporter: 'rejects' },
    { name: 'a glob for a scope', file: 'glob-scope.yaml', at: '/spec/namespacePolicies/0/namespace', keyword: 'pattern', exporter: 'rejects' },
    { name: 'a threshold of 100 %', file: 'threshold-out-of-range.yaml', at: '/spec/diskPressure/highThresholdPercent', keyword: 'exclusiveMaximum', exporter: 'rejects' },
  ] as const)('rejects $name at $at ($keyword); the exporter $exporter it', async ({ file, at, keyword }) => {
    const document = await readOne(path.join(FIXTURES, 'invalid', file));
    expect(schemaErrors(document)).toContainEqual({ instancePath: at, keyword });
    expect(parsePolicyDocument(document, file).ok).toBe(false);
  });

  it.each([
    ['a fractional count', { globalPolicy: { maxCheckpointsPerPod: 1.5 } }, '/spec/globalPolicy/maxCheckpointsPerPod', 'type'],
    ['a string count', { namespacePolicies: [{ namespace: 'a', maxCheckpoints: '5' }] }, '/spec/namespacePolicies/0/maxCheckpoints', 'type'],
    ['durations out of order', { orphanGracePeriod: '30m1h' }, '/spec/orphanGracePeriod', 'pattern'],
    ['a fractional duration', { globalPolicy: { maxCheckpointAge: '1.5h' } }, '/spec/globalPolicy/maxCheckpointAge', 'pattern'],
    ['a bare number as duration', { globalPolicy: { maxCheckpointAge: 3600 } }, '/spec/globalPolicy/maxCheckpointAge', 'type'],
    ['a milli-byte quantity', { globalPolicy: { maxCheckpointSize: '500m' } }, '/spec/globalPolicy/maxCheckpointSize', 'pattern'],
    ['a non-boolean retainOrphan', { globalPolicy: { retainOrphan: 'yes' } }, '/spec/globalPolicy/retainOrphan', 'type'],
    ['a zero threshold', { diskPressure: { lowThresholdPercent: 0 } }, '/spec/diskPressure/lowThresholdPercent', 'exclusiveMinimum'],
    ['a negative keepNewestPerContainer', { diskPressure: { keepNewestPerContainer: -1 } }, '/spec/diskPressure/keepNewestPerContainer', 'minimum'],
    ['a pod policy without namespace', { podPolicies: [{ pod: 'web-0' }] }, '/spec/podPolicies/0', 'required'],
    ['an empty namespace name', { namespacePolicies: [{ namespace: '' }] }, '/spec/namespacePolicies/0/namespace', 'minLength'],
    ['a bare integer size', { globalPolicy: { maxCheckpointSize: 10 } }, '/spec/globalPolicy/maxCheckpointSize', 'maximum'],
    ['a bare size as text', { globalPolicy: { maxTotalSizePerPod: '10' } }, '/spec/globalPolicy/maxTotalSizePerPod', 'pattern'],
    ['a size as a decimal exponent', { podPolicies: [{ namespace: 'a', pod: 'b', maxTotalSize: '1e3' }] }, '/spec/podPolicies/0/maxTotalSize', 'pattern'],
    ['a size in milli-bytes that looks like megabytes', { globalPolicy: { maxCheckpointSize: '1000m' } }, '/spec/globalPolicy/maxCheckpointSize', 'pattern'],
    ['a namespace with a trailing space', { namespacePolicies: [{ namespace: 'shop ' }] }, '/spec/namespacePolicies/0/namespace', 'pattern'],
    ['a namespace in capitals', { namespacePolicies: [{ namespace: 'Shop' }] }, '/spec/namespacePolicies/0/namespace', 'pattern'],
    ['a pod name glob', { podPolicies: [{ namespace: 'shop', pod: 'web-*' }] }, '/spec/podPolicies/0/pod', 'pattern'],
    ['a misspelled list', { containerPolicy: [] }, '/spec', 'additionalProperties'],
    ['an unknown field in a list entry', { namespacePolicies: [{ namespace: 'a', maxCheckpoint: 3 }] }, '/spec/namespacePolicies/0', 'additionalProperties'],
    ['an unknown field in diskPressure', { diskPressure: { highThresholdPercnt: 90 } }, '/spec/diskPressure', 'additionalProperties'],
  ])('rejects %s, as the exporter does', (_name, spec, at, keyword) => {
    const document = withSpec(spec);
    expect(schemaErrors(document)).toContainEqual({ instancePath: at, keyword });
    expect(parsePolicyDocument(document, 'inline').ok).toBe(false);
  });

  it('rejects a relative checkpoint directory, which the DaemonSet mount could never match', () => {
    expect(schemaErrors(withSpec({ checkpointDirectory: 'checkpoints' }))).toContainEqual({ instancePath: '/spec/checkpointDirectory', keyword: 'pattern' });
  });
});

const QUANTITY_SUFFIXES = ['', 'k', 'M', 'G', 'T', 'P', 'E', 'Ki', 'Mi', 'Gi', 'Ti', 'Pi', 'Ei'] as const;
/** Suffixes whose multiple of any amount below 8000 still fits in 2^53 bytes. */
const IN_RANGE_SUFFIXES = ['', 'k', 'M', 'G', 'T', 'Ki', 'Mi', 'Gi', 'Ti'] as const;
/**
 * Arithmetic a pattern cannot express: `0.1` (not a whole byte) or `10P` (beyond 2^53) pass the CRD
 * syntax check and are refused by the exporter, which then keeps the previous policy and says why.
 */
const ARITHMETIC_ONLY = /not a whole number of bytes|is out of range|longer than the longest timer/;
const SIZE_FIELDS = ['maxCheckpointSize', 'maxTotalSizePerNamespace', 'maxTotalSizePerPod', 'maxTotalSizePerContainer'] as const;

/** Text shaped like the values people write, valid or not, so both outcomes are exercised. */
const quantityLike = fc.oneof(
  fc.tuple(fc.constantFrom('', '+', '-'), fc.nat(5000), fc.option(fc.nat(999), { nil: undefined }), fc.constantFrom(...QUANTITY_SUFFIXES, 'm', 'GB', 'e3', 'E-2', ' Gi')).map(
    ([sign, whole, fraction, suffix]) => `${sign}${whole}${fraction === undefined ? '' : `.${fraction}`}${suffix}`,
  ),
  fc.integer({ min: -1000, max: 10 ** 12 }),
  fc.string({ maxLength: 8 }),
);
const durationLike = fc.oneof(
  fc.array(fc.tuple(fc.nat(400), fc.constantFrom('d', 'h', 'm', 's', 'ms', 'w', '')), { minLength: 1, maxLength: 4 }).map((parts) => parts.map(([n, unit]) => `${n}${unit}`).join('')),
  fc.string({ maxLength: 6 }),
  fc.nat(100),
);

describe('CRD schema and exporter agree', () => {
  it('accepts every whole quantity with a Kubernetes suffix, as the exporter does, and neither takes a bare number but 0', () => {
    fc.assert(
      fc.property(fc.nat(7999), fc.constantFrom(...IN_RANGE_SUFFIXES), fc.constantFrom(...SIZE_FIELDS), fc.boolean(), (amount, suffix, field, asNumber) => {
        const value = suffix === '' && asNumber ? amount : `${amount}${suffix}`;
        const document = withSpec({ globalPolicy: { [field]: value } });
        const accepted = suffix !== '' || amount === 0;
        expect(schemaErrors(document).length === 0).toBe(accepted);
        expect(parsePolicyDocument(document, 'generated').ok).toBe(accepted);
      }),
      { numRuns: numRuns(100) },
    );
  });

  it('accepts every canonical duration, and the exporter reads the same number of seconds', () => {
    fc.assert(
      fc.property(fc.option(fc.nat(400), { nil: undefined }), fc.option(fc.nat(23), { nil: undefined }), fc.option(fc.nat(59), { nil: undefined }), fc.option(fc.nat(59), { nil: undefined }), (d, h, m, s) => {
        const text = [d === undefined ? '' : `${d}d`, h === undefined ? '' : `${h}h`, m === undefined ? '' : `${m}m`, s === undefined ? '' : `${s}s`].join('') || '0';
        const document = withSpec({ globalPolicy: { maxCheckpointAge: text } });
        expect(schemaErrors(document)).toEqual([]);
        const parsed = parsePolicyDocument(document, 'generated');
        expect(parsed).toMatchObject({ ok: true, value: { globalPolicy: { maxCheckpointAgeSeconds: (d ?? 0) * 86_400 + (h ?? 0) * 3_600 + (m ?? 0) * 60 + (s ?? 0) } } });
      }),
      { numRuns: numRuns(100) },
    );
  });

  it('leaves the timer bound of orphanGracePeriod to the exporter, which refuses a longer one', () => {
    const document = withSpec({ orphanGracePeriod: '25d' });
    expect(schemaErrors(document)).toEqual([]);
    const parsed = parsePolicyDocument(document, 'generated');
    expect(parsed.ok ? '' : parsed.reason).toContain('longer than the longest timer');
    expect(parsePolicyDocument(withSpec({ orphanGracePeriod: '24d20h31m23s' }), 'generated').ok).toBe(true);
  });

  it('never admits a policy the exporter would refuse', () => {
    const limits = fc.record(
      { retainOrphan: fc.oneof(fc.boolean(), fc.constant('true')), maxCheckpoints: fc.oneof(fc.integer({ min: -3, max: 50 }), fc.double()), maxCheckpointSize: quantityLike, maxTotalSize: quantityLike, maxCheckpointAge: durationLike },
      { requiredKeys: [] },
    );
    const spec = fc.record(
      {
        globalPolicy: fc.record(
          {
            maxCheckpointsPerContainer: fc.integer({ min: -3, max: 50 }),
            maxCheckpointSize: quantityLike,
            maxTotalSizePerPod: quantityLike,
            maxCheckpointAge: durationLike,
          },
          { requiredKeys: [] },
        ),
        containerPolicies: fc.array(fc.tuple(fc.constantFrom('a', 'b'), fc.constantFrom('p-0', 'p-1'), fc.constantFrom('c', 'd'), limits).map(([namespace, pod, container, rest]) => ({ namespace, pod, container, ...rest })), { maxLength: 1 }),
        diskPressure: fc.record({ highThresholdPercent: fc.double({ min: -10, max: 110, noNaN: true }), lowThresholdPercent: fc.double({ min: -10, max: 110, noNaN: true }) }, { requiredKeys: [] }),
        orphanGracePeriod: durationLike,
      },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(spec, (generated) => {
        const document = withSpec(generated);
        const { highThresholdPercent: high = 85, lowThresholdPercent: low = 80 } = generated.diskPressure ?? {};
        // The only rule the API server checks beyond the schema is the CEL threshold order.
        const admitted = schemaErrors(document).length === 0 && low <= high;
        if (!admitted) return;
        const parsed = parsePolicyDocument(document, 'generated');
        if (!parsed.ok) expect(splitProblems(parsed.reason).filter((problem) => !ARITHMETIC_ONLY.test(problem))).toEqual([]);
      }),
      { numRuns: numRuns(2000) },
    );
  });
});
