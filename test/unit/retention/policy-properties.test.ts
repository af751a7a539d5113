import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import yaml from 'js-yaml';
import { parsePolicyDocument, parsePolicyYaml, splitProblems } from '../../../src/retention/policy-document.js';

/**
 * No document with an unknown or misspelled key loads as valid, at any level, as an object or as
 * YAML: a key the exporter does not know is a limit it would not apply, and the default it falls back
 * to deletes. 10,000 cases under CI=true.
 */
const NUM_RUNS = process.env['CI'] === 'true' ? 10_000 : 500;

/** The schema as a user sees it: the keys known at each level. */
const LIMIT_KEYS = ['retainOrphan', 'maxCheckpoints', 'maxCheckpointSize', 'maxTotalSize', 'maxCheckpointAge', 'deleteUnrestorableFirst'];
const KNOWN: Readonly<Record<string, readonly string[]>> = {
  top: ['apiVersion', 'kind', 'metadata', 'spec', 'status'],
  metadata: [
    'name',
    'namespace',
    'labels',
    'annotations',
    'generateName',
    'uid',
    'resourceVersion',
    'generation',
    'creationTimestamp',
    'deletionTimestamp',
    'deletionGracePeriodSeconds',
    'finalizers',
    'ownerReferences',
    'managedFields',
    'selfLink',
  ],
  spec: ['checkpointDirectory', 'applyPoliciesImmediately', 'globalPolicy', 'containerPolicies', 'podPolicies', 'namespacePolicies', 'diskPressure', 'orphanGracePeriod'],
  globalPolicy: [
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
  ],
  diskPressure: ['highThresholdPercent', 'lowThresholdPercent', 'keepNewestPerContainer'],
  namespacePolicies: ['namespace', ...LIMIT_KEYS],
  podPolicies: ['namespace', 'pod', ...LIMIT_KEYS],
  containerPolicies: ['namespace', 'pod', 'container', ...LIMIT_KEYS],
};
const EVERY_KEY = [...new Set(Object.values(KNOWN).flat())];

type Json = Record<string, unknown>;

const size = fc.constantFrom<unknown>(0, '0', '10Mi', '1.5Gi', '500M', '4k', '2Ti');
const duration = fc.constantFrom('0s', '90m', '7d', '1h30m');
const count = fc.nat(100);
const limits = fc.record(
  { retainOrphan: fc.boolean(), maxCheckpoints: count, maxCheckpointSize: size, maxTotalSize: size, maxCheckpointAge: duration, deleteUnrestorableFirst: fc.boolean() },
  { requiredKeys: [] },
);
const namespaceName = fc.constantFrom('default', 'shop', 'shop-prod', 'kube-system', 'a1');
const podName = fc.constantFrom('web-0', 'cart-7d9f8b6c4-x2k4p', 'db.primary-0', 'x');
const containerName = fc.constantFrom('api', 'cart-api', 'sidecar', 'c');

const validSpec = fc.record(
  {
    checkpointDirectory: fc.constantFrom('/var/lib/kubelet/checkpoints', '/c'),
    applyPoliciesImmediately: fc.boolean(),
    globalPolicy: fc.record(
      {
        retainOrphan: fc.boolean(),
        maxCheckpointsPerNamespace: count,
        maxCheckpointsPerPod: count,
        maxCheckpointsPerContainer: count,
        maxCheckpointSize: size,
        maxTotalSizePerNamespace: size,
        maxTotalSizePerPod: size,
        maxTotalSizePerContainer: size,
        maxCheckpointAge: duration,
        deleteUnrestorableFirst: fc.boolean(),
      },
      { requiredKeys: [] },
    ),
    namespacePolicies: fc.uniqueArray(fc.tuple(namespaceName, limits).map(([namespace, l]) => ({ namespace, ...l })), { maxLength: 3, selector: (p) => p.namespace }),
    podPolicies: fc.uniqueArray(fc.tuple(namespaceName, podName, limits).map(([namespace, pod, l]) => ({ namespace, pod, ...l })), {
      maxLength: 3,
      selector: (p) => `${p.namespace}/${p.pod}`,
    }),
    containerPolicies: fc.uniqueArray(fc.tuple(namespaceName, podName, containerName, limits).map(([namespace, pod, container, l]) => ({ namespace, pod, container, ...l })), {
      maxLength: 3,
      selector: (p) => `${p.namespace}/${p.pod}/${p.container}`,
    }),
    diskPressure: fc.record({ highThresholdPercent: fc.constantFrom(85, 90.5), lowThresholdPercent: fc.constantFrom(60, 80), keepNewestPerContainer: fc.nat(3) }, { requiredKeys: [] }),
    orphanGracePeriod: duration,
  },
  { requiredKeys: [] },
);

const validDocument: fc.Arbitrary<Json> = fc
  .tuple(validSpec, fc.option(fc.dictionary(fc.constantFrom('app', 'team', 'tier'), fc.constantFrom('a', 'b')), { nil: undefined }))
  .map(([spec, labels]) => ({
    apiVersion: 'criu.org/v1',
    kind: 'CheckpointRestoreOperator',
    metadata: { name: 'policy', namespace: 'checkpoint-exporter', ...(labels ? { labels } : {}) },
    spec,
  }));

/** Every mapping a user writes keys into, with its field path and the keys known there. */
interface Site {
  readonly path: string;
  readonly known: readonly string[];
  readonly fields: Json;
}

function sitesOf(document: Json): Site[] {
  const sites: Site[] = [{ path: '', known: KNOWN['top'] ?? [], fields: document }];
  const metadata = document['metadata'] as Json;
  sites.push({ path: 'metadata', known: KNOWN['metadata'] ?? [], fields: metadata });
  const spec = document['spec'] as Json;
  sites.push({ path: 'spec', known: KNOWN['spec'] ?? [], fields: spec });
  for (const section of ['globalPolicy', 'diskPressure']) {
    if (spec[section] !== undefined) sites.push({ path: `spec.${section}`, known: KNOWN[section] ?? [], fields: spec[section] as Json });
  }
  for (const list of ['namespacePolicies', 'podPolicies', 'containerPolicies']) {
    ((spec[list] as Json[] | undefined) ?? []).forEach((entry, index) => sites.push({ path: `spec.${list}[${index}]`, known: KNOWN[list] ?? [], fields: entry }));
  }
  return sites;
}

/** How people get a key wrong. */
type Typo =
  | { readonly kind: 'delete' | 'double' | 'swap' | 'case'; readonly at: number }
  | { readonly kind: 'replace' | 'insert'; readonly at: number; readonly char: string }
  | { readonly kind: 'plural' | 'singular' | 'lower' | 'capital' };

const typo: fc.Arbitrary<Typo> = fc.oneof(
  fc.record({ kind: fc.constantFrom('delete' as const, 'double' as const, 'swap' as const, 'case' as const), at: fc.nat(40) }),
  fc.record({ kind: fc.constantFrom('replace' as const, 'insert' as const), at: fc.nat(40), char: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyzAPS_-0 '.split('')) }),
  fc.record({ kind: fc.constantFrom('plural' as const, 'singular' as const, 'lower' as const, 'capital' as const) }),
);

function misspell(key: string, t: Typo): string {
  const at = 'at' in t ? t.at % key.length : 0;
  switch (t.kind) {
    case 'delete':
      return key.slice(0, at) + key.slice(at + 1);
    case 'double':
      return key.slice(0, at + 1) + key.slice(at);
    case 'swap':
      return at + 1 < key.length ? key.slice(0, at) + key.charAt(at + 1) + key.charAt(at) + key.slice(at + 2) : key.slice(0, -2) + key.slice(-1) + key.slice(-2, -1);
    case 'case': {
      const c = key.charAt(at);
      return key.slice(0, at) + (c === c.toLowerCase() ? c.toUpperCase() : c.toLowerCase()) + key.slice(at + 1);
    }
    case 'replace':
      return key.slice(0, at) + t.char + key.slice(at + 1);
    case 'insert':
      return key.slice(0, at) + t.char + key.slice(at);
    case 'plural':
      return `${key}s`;
    case 'singular':
      return key.endsWith('ies') ? `${key.slice(0, -3)}y` : key.replace(/s$/, '');
    case 'lower':
      return key.toLowerCase();
    case 'capital':
      return key.charAt(0).toUpperCase() + key.slice(1);
  }
}

/** A document with one bad key, and the path that bad key sits at. */
type Mutation =
  | { readonly kind: 'misspell'; readonly site: number; readonly key: number; readonly typo: Typo }
  | { readonly kind: 'add'; readonly site: number; readonly key: string; readonly value: unknown }
  | { readonly kind: 'misplace'; readonly site: number; readonly key: number; readonly value: unknown };

const anyValue = fc.oneof(fc.nat(100), fc.constantFrom('10Mi', '7d', 'shop', true, false), fc.constant({}), fc.constant([]));
const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('misspell' as const), site: fc.nat(), key: fc.nat(), typo }),
  fc.record({ kind: fc.constant('add' as const), site: fc.nat(), key: fc.stringMatching(/^[A-Za-z][A-Za-z0-9_-]{0,24}$/), value: anyValue }),
  // A real field at the wrong level: the key at the wrong indentation.
  fc.record({ kind: fc.constant('misplace' as const), site: fc.nat(), key: fc.nat(EVERY_KEY.length - 1), value: anyValue }),
);

/** Applies the mutation to a copy; undefined when it would not produce an unknown key (then the case is skipped). */
function apply(document: Json, m: Mutation): { document: Json; at: string } | undefined {
  const copy = structuredClone(document);
  const sites = sitesOf(copy);
  const site = sites[m.site % sites.length];
  if (!site) return undefined;
  const at = (key: string): string => (site.path === '' ? key : `${site.path}.${key}`);
  if (m.kind === 'misspell') {
    const keys = Object.keys(site.fields);
    if (keys.length === 0) return undefined;
    const key = keys[m.key % keys.length] ?? '';
    const wrong = misspell(key, m.typo);
    if (wrong === '' || site.known.includes(wrong) || wrong in site.fields) return undefined;
    site.fields[wrong] = site.fields[key];
    delete site.fields[key];
    return { document: copy, at: at(wrong) };
  }
  const key = m.kind === 'add' ? m.key : (EVERY_KEY[m.key] ?? '');
  if (site.known.includes(key) || key in site.fields) return undefined;
  site.fields[key] = m.value;
  return { document: copy, at: at(key) };
}

describe('policy documents with an unknown or misspelled key', () => {
  it('the generator makes valid documents (so a refusal below is the bad key)', () => {
    fc.assert(
      fc.property(validDocument, (document) => {
        const parsed = parsePolicyDocument(document, 'generated');
        if (!parsed.ok) throw new Error(parsed.reason);
      }),
      { numRuns: Math.min(NUM_RUNS, 1_000) },
    );
  });

  it('never load as valid, as an object or as YAML, and the refusal names the bad key', () => {
    fc.assert(
      fc.property(validDocument, mutation, fc.boolean(), (document, m, asYaml) => {
        const mutated = apply(document, m);
        fc.pre(mutated !== undefined);
        if (!mutated) return;
        const parsed = asYaml ? parsePolicyYaml(yaml.dump(mutated.document), 'file p.yaml') : parsePolicyDocument(mutated.document, 'generated');
        expect(parsed.ok).toBe(false);
        if (parsed.ok) return;
        const prefix = asYaml ? 'file p.yaml: document 0: ' : 'generated: ';
        expect(splitProblems(parsed.reason)).toContainEqual(expect.stringMatching(new RegExp(`^${escape(prefix + mutated.at)}: unknown field`)));
      }),
      { numRuns: NUM_RUNS },
    );
  });
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
