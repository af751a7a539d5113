import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { mergePolicies } from '../../../src/retention/merge-policies.js';
import { parsePolicyDocument, type PolicyDocument } from '../../../src/retention/policy-document.js';
import type { RetentionPolicy } from '../../../src/retention/types.js';

/**
 * Issue 16: a scope or global field set by several documents is reported, and the setting that
 * deletes less applies. The oracle below reads the generated YAML values directly, with its own
 * arithmetic, never the merge's code: for every scope and field, the merged value is the least-deleting
 * of the values written for it, whatever the order of the documents.
 */

const SIZES: Readonly<Record<string, number>> = { '0': 0, '1Ki': 1024, '5Ki': 5 * 1024, '1Mi': 1024 ** 2 };
const AGES: Readonly<Record<string, number>> = { '0s': 0, '30m': 1800, '1h': 3600, '2d': 172_800 };

interface RawLimits {
  maxCheckpoints?: number;
  maxCheckpointSize?: string;
  maxTotalSize?: string;
  maxCheckpointAge?: string;
  retainOrphan?: boolean;
  deleteUnrestorableFirst?: boolean;
}
interface RawScope extends RawLimits {
  namespace: string;
  pod: string;
  container: string;
}
interface RawGlobal {
  maxCheckpointsPerContainer?: number;
  maxCheckpointsPerPod?: number;
  maxTotalSizePerContainer?: string;
  maxCheckpointAge?: string;
  retainOrphan?: boolean;
  deleteUnrestorableFirst?: boolean;
}
interface RawSpec {
  containerPolicies?: RawScope[];
  globalPolicy?: RawGlobal;
  diskPressure?: { highThresholdPercent?: number; lowThresholdPercent?: number; keepNewestPerContainer?: number };
}

const limitsArb: fc.Arbitrary<RawLimits> = fc.record(
  {
    maxCheckpoints: fc.integer({ min: 0, max: 9 }),
    maxCheckpointSize: fc.constantFrom(...Object.keys(SIZES)),
    maxTotalSize: fc.constantFrom(...Object.keys(SIZES)),
    maxCheckpointAge: fc.constantFrom(...Object.keys(AGES)),
    retainOrphan: fc.boolean(),
    deleteUnrestorableFirst: fc.boolean(),
  },
  { requiredKeys: [] },
);
const scopeArb = fc.record({ namespace: fc.constantFrom('a', 'b'), pod: fc.constant('p'), container: fc.constantFrom('c', 'd') });
const specArb: fc.Arbitrary<RawSpec> = fc.record(
  {
    containerPolicies: fc.uniqueArray(
      fc.tuple(scopeArb, limitsArb).map(([scope, limits]) => ({ ...scope, ...limits })),
      { selector: (p) => `${p.namespace}/${p.pod}/${p.container}`, maxLength: 4 },
    ),
    globalPolicy: fc.record(
      {
        maxCheckpointsPerContainer: fc.integer({ min: 0, max: 20 }),
        maxCheckpointsPerPod: fc.integer({ min: 0, max: 20 }),
        maxTotalSizePerContainer: fc.constantFrom(...Object.keys(SIZES)),
        maxCheckpointAge: fc.constantFrom(...Object.keys(AGES)),
        retainOrphan: fc.boolean(),
        deleteUnrestorableFirst: fc.boolean(),
      },
      { requiredKeys: [] },
    ),
    diskPressure: fc
      .record({ high: fc.integer({ min: 81, max: 99 }), low: fc.integer({ min: 1, max: 80 }), keep: fc.integer({ min: 0, max: 3 }), set: fc.subarray(['high', 'low', 'keep'] as const) })
      .map(({ high, low, keep, set }) => ({
        ...(set.includes('high') ? { highThresholdPercent: high } : {}),
        ...(set.includes('low') ? { lowThresholdPercent: low } : {}),
        ...(set.includes('keep') ? { keepNewestPerContainer: keep } : {}),
      })),
  },
  { requiredKeys: [] },
);

interface Generated {
  readonly spec: RawSpec;
  readonly doc: PolicyDocument;
}

const docArb: fc.Arbitrary<Generated> = fc
  .tuple(fc.constantFrom('file', 'cluster'), fc.integer({ min: 0, max: 3 }), fc.constantFrom('x', 'y', 'z'), specArb)
  .map(([origin, index, name, spec]) => {
    const raw = { apiVersion: 'criu.org/v1', kind: 'CheckpointRestoreOperator', metadata: { namespace: 'checkpoint-exporter', name }, spec };
    const source = origin === 'file' ? `file p.yaml document ${index}` : `CheckpointRestoreOperator checkpoint-exporter/${name}`;
    const parsed = parsePolicyDocument(raw, source, origin === 'file' ? { origin: 'file', index } : { origin: 'cluster' });
    if (!parsed.ok) throw new Error(parsed.reason);
    return { spec, doc: parsed.value };
  });

/** How much a limit keeps, by the oracle's own reading: unset or 0 is no limit. */
const keepsOfLimit = (value: number | undefined): number => (value === undefined || value === 0 ? Infinity : value);

function expectedLimit(values: readonly (number | undefined)[]): number {
  const most = Math.max(...values.map(keepsOfLimit));
  return most === Infinity ? 0 : most;
}

function checkScopes(policy: RetentionPolicy, specs: readonly RawSpec[]): void {
  const entries = new Map<string, RawScope[]>();
  for (const spec of specs) for (const p of spec.containerPolicies ?? []) entries.set(`${p.namespace}/${p.pod}/${p.container}`, [...(entries.get(`${p.namespace}/${p.pod}/${p.container}`) ?? []), p]);
  expect(policy.containerPolicies.map((p) => `${p.namespace}/${p.pod}/${p.container}`).sort()).toEqual([...entries.keys()].sort());
  let conflicts = 0;
  for (const merged of policy.containerPolicies) {
    const written = entries.get(`${merged.namespace}/${merged.pod}/${merged.container}`) ?? [];
    const want = {
      maxCheckpoints: expectedLimit(written.map((e) => e.maxCheckpoints)),
      maxCheckpointSize: expectedLimit(written.map((e) => (e.maxCheckpointSize === undefined ? undefined : SIZES[e.maxCheckpointSize]))),
      maxTotalSize: expectedLimit(written.map((e) => (e.maxTotalSize === undefined ? undefined : SIZES[e.maxTotalSize]))),
      maxCheckpointAgeSeconds: expectedLimit(written.map((e) => (e.maxCheckpointAge === undefined ? undefined : AGES[e.maxCheckpointAge]))),
      // Unset retainOrphan keeps orphans; unset deleteUnrestorableFirst is oldest first.
      retainOrphan: written.some((e) => e.retainOrphan !== false),
      deleteUnrestorableFirst: written.every((e) => e.deleteUnrestorableFirst === true),
    };
    expect({
      maxCheckpoints: merged.maxCheckpoints ?? 0,
      maxCheckpointSize: merged.maxCheckpointSize ?? 0,
      maxTotalSize: merged.maxTotalSize ?? 0,
      maxCheckpointAgeSeconds: merged.maxCheckpointAgeSeconds ?? 0,
      retainOrphan: merged.retainOrphan ?? true,
      deleteUnrestorableFirst: merged.deleteUnrestorableFirst ?? false,
    }).toEqual(want);
    const differ = (values: readonly unknown[]): boolean => new Set(values).size > 1;
    conflicts += [
      differ(written.map((e) => keepsOfLimit(e.maxCheckpoints))),
      differ(written.map((e) => keepsOfLimit(e.maxCheckpointSize === undefined ? undefined : SIZES[e.maxCheckpointSize]))),
      differ(written.map((e) => keepsOfLimit(e.maxTotalSize === undefined ? undefined : SIZES[e.maxTotalSize]))),
      differ(written.map((e) => keepsOfLimit(e.maxCheckpointAge === undefined ? undefined : AGES[e.maxCheckpointAge]))),
      differ(written.map((e) => e.retainOrphan !== false)),
      differ(written.map((e) => e.deleteUnrestorableFirst === true)),
    ].filter(Boolean).length;
  }
  expect((policy.conflicts ?? []).filter((c) => c.scope.startsWith('container ')).length).toBe(conflicts);
}

function checkGlobal(policy: RetentionPolicy, specs: readonly RawSpec[]): void {
  const globals = specs.flatMap((s) => (s.globalPolicy === undefined ? [] : [s.globalPolicy]));
  const set = <K extends keyof RawGlobal>(key: K): NonNullable<RawGlobal[K]>[] => globals.flatMap((g) => (g[key] === undefined ? [] : [g[key] as NonNullable<RawGlobal[K]>]));
  const limit = (values: readonly number[], fallback: number): number => (values.length === 0 ? fallback : values.includes(0) ? 0 : Math.max(...values));
  expect({
    maxCheckpointsPerContainer: policy.global.maxCheckpointsPerContainer,
    maxCheckpointsPerPod: policy.global.maxCheckpointsPerPod,
    maxTotalSizePerContainer: policy.global.maxTotalSizePerContainer,
    maxCheckpointAgeSeconds: policy.global.maxCheckpointAgeSeconds,
    retainOrphan: policy.global.retainOrphan,
    deleteUnrestorableFirst: policy.global.deleteUnrestorableFirst,
  }).toEqual({
    maxCheckpointsPerContainer: limit(set('maxCheckpointsPerContainer'), 10),
    maxCheckpointsPerPod: limit(set('maxCheckpointsPerPod'), 0),
    maxTotalSizePerContainer: limit(set('maxTotalSizePerContainer').map((s) => SIZES[s] ?? NaN), 0),
    maxCheckpointAgeSeconds: limit(set('maxCheckpointAge').map((s) => AGES[s] ?? NaN), 0),
    retainOrphan: set('retainOrphan').length === 0 || set('retainOrphan').includes(true),
    deleteUnrestorableFirst: set('deleteUnrestorableFirst').length > 0 && !set('deleteUnrestorableFirst').includes(false),
  });
}

function checkDiskPressure(policy: RetentionPolicy, specs: readonly RawSpec[]): void {
  const blocks = specs.flatMap((s) => (s.diskPressure === undefined ? [] : [s.diskPressure]));
  if (blocks.length === 0) {
    expect(policy.diskPressure).toBeUndefined();
    return;
  }
  expect({ ...policy.diskPressure, source: undefined }).toEqual({
    highThresholdPercent: Math.max(...blocks.map((b) => b.highThresholdPercent ?? 85)),
    lowThresholdPercent: Math.max(...blocks.map((b) => b.lowThresholdPercent ?? 80)),
    keepNewestPerContainer: Math.max(...blocks.map((b) => b.keepNewestPerContainer ?? 1)),
    source: undefined,
  });
  expect(policy.diskPressure?.lowThresholdPercent ?? 0).toBeLessThanOrEqual(policy.diskPressure?.highThresholdPercent ?? 0);
}

describe('mergePolicies: a field several documents set takes the setting that deletes less', () => {
  it('for every scope and global field, whatever the order of the documents (property, independent oracle)', () => {
    const docsArb = fc.array(docArb, { maxLength: 5 }).chain((docs) => fc.tuple(fc.constant(docs), fc.shuffledSubarray(docs, { minLength: docs.length, maxLength: docs.length })));
    fc.assert(
      fc.property(docsArb, ([docs, shuffled]) => {
        const specs = docs.map((d) => d.spec);
        for (const order of [docs, shuffled]) {
          const policy = mergePolicies(order.map((d) => d.doc));
          checkScopes(policy, specs);
          checkGlobal(policy, specs);
          checkDiskPressure(policy, specs);
        }
        expect(mergePolicies(shuffled.map((d) => d.doc))).toEqual(mergePolicies(docs.map((d) => d.doc)));
      }),
      { numRuns: 400 },
    );
  });

  it('credits each field of a merged scope to the entry it came from, so a deletion names the document behind its limit', () => {
    const doc = (index: number, limits: RawLimits): PolicyDocument => {
      const parsed = parsePolicyDocument(
        { apiVersion: 'criu.org/v1', kind: 'CheckpointRestoreOperator', spec: { containerPolicies: [{ namespace: 'a', pod: 'p', container: 'c', ...limits }] } },
        `file p.yaml document ${index}`,
        { origin: 'file', index },
      );
      if (!parsed.ok) throw new Error(parsed.reason);
      return parsed.value;
    };
    const policy = mergePolicies([doc(0, { maxCheckpoints: 3, maxCheckpointAge: '2d' }), doc(1, { maxCheckpoints: 5, maxCheckpointAge: '1h' })]);
    expect(policy.containerPolicies).toEqual([
      {
        namespace: 'a',
        pod: 'p',
        container: 'c',
        maxCheckpoints: 5,
        maxCheckpointAgeSeconds: 172_800,
        source: 'file p.yaml document 1 containerPolicies[0] and file p.yaml document 0 containerPolicies[0]',
        fieldSources: { maxCheckpoints: 'file p.yaml document 1 containerPolicies[0]', maxCheckpointAgeSeconds: 'file p.yaml document 0 containerPolicies[0]' },
      },
    ]);
    expect(policy.conflicts?.map((c) => c.message)).toEqual([
      'container a/p/c maxCheckpoints is set differently: 3 by file p.yaml document 0 containerPolicies[0], 5 by file p.yaml document 1 containerPolicies[0]; 5 by file p.yaml document 1 containerPolicies[0] applies: no limit deletes least, then the larger limit',
      'container a/p/c maxCheckpointAgeSeconds is set differently: 2d by file p.yaml document 0 containerPolicies[0], 1h by file p.yaml document 1 containerPolicies[0]; 2d by file p.yaml document 0 containerPolicies[0] applies: no limit deletes least, then the larger limit',
    ]);
  });
});
