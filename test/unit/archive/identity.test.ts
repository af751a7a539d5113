import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { parseArchiveName } from '../../../src/archive/archive-name.js';
import { countReads, openFileByteSource } from '../../../src/archive/byte-source.js';
import { bufferByteSource } from '../../support/byte-sources.js';
import { MAX_DUMP_BYTES, readArchiveIdentity, readIdentityFrom } from '../../../src/archive/identity.js';
import type { ParsedArchiveName } from '../../../src/archive/types.js';
import {
  encodeTar,
  makeTempDir,
  sampleArchiveEntries,
  sampleArchiveName,
  sampleSpecDump,
  writeSampleArchive,
  writeTarFile,
  type SampleArchiveOptions,
  type TarEntrySpec,
} from '../../support/archives.js';
import { numRuns } from '../../support/properties.js';

const base: SampleArchiveOptions = {
  namespace: 'shop-prod',
  pod: 'cart-7d9f8b6c4-x2k4p',
  container: 'cart-api',
  timestamp: '2024-01-28T00:10:45Z',
  runtime: 'cri-o',
};

function nameOf(fileName: string): ParsedArchiveName {
  const parsed = parseArchiveName(fileName);
  if (!parsed.ok) throw new Error(parsed.reason);
  return parsed.value;
}

const crioLabels = (labels: Record<string, unknown>): string => JSON.stringify(labels);
const allLabels = { 'io.kubernetes.pod.namespace': 'shop-prod', 'io.kubernetes.pod.name': 'cart-7d9f8b6c4-x2k4p', 'io.kubernetes.container.name': 'cart-api' };
const containerdKeys = {
  'io.kubernetes.cri.sandbox-namespace': 'shop-prod',
  'io.kubernetes.cri.sandbox-name': 'cart-7d9f8b6c4-x2k4p',
  'io.kubernetes.cri.container-name': 'cart-api',
};
const criuKeys = {
  'org.criu.checkpoint.pod.namespace': 'shop-prod',
  'org.criu.checkpoint.pod.name': 'cart-7d9f8b6c4-x2k4p',
  'org.criu.checkpoint.container.name': 'cart-api',
};

describe('readArchiveIdentity on real archive files', () => {
  let dir: string;
  let remove: () => Promise<void>;
  beforeAll(async () => {
    ({ dir, remove } = await makeTempDir());
  });
  afterAll(() => remove());

  async function identify(options: Partial<SampleArchiveOptions>) {
    const full = { ...base, ...options };
    const sub = await fs.mkdtemp(join(dir, 'case-'));
    const fileName = await writeSampleArchive(sub, full);
    return readArchiveIdentity(join(sub, fileName), nameOf(fileName));
  }

  const identified = (sources: string[], identity = { namespace: 'shop-prod', pod: 'cart-7d9f8b6c4-x2k4p', container: 'cart-api' }) => ({
    ok: true,
    value: { identity, sources },
  });

  it.each([
    ['CRI-O alone', { runtime: 'cri-o' }, ['cri-o']],
    ['containerd alone', { runtime: 'containerd' }, ['containerd']],
    ['org.criu.checkpoint alone', { runtime: 'criu' }, ['criu']],
    ['CRI-O and containerd agreeing', { runtime: 'cri-o', extraAnnotations: containerdKeys }, ['cri-o', 'containerd']],
    ['all three agreeing', { runtime: 'containerd', extraAnnotations: { ...criuKeys, 'io.kubernetes.cri-o.Labels': crioLabels(allLabels) } }, ['cri-o', 'containerd', 'criu']],
    ['CRI-O labels with extra keys', { extraAnnotations: { 'io.kubernetes.cri-o.Labels': crioLabels({ ...allLabels, app: 'cart', 'io.kubernetes.pod.uid': 'u' }) } }, ['cri-o']],
    ['ustar, GNU and PAX archives alike', { format: 'pax' }, ['cri-o']],
  ] as Array<[string, Partial<SampleArchiveOptions>, string[]]>)('identifies: %s', async (_label, options, sources) => {
    expect(await identify(options)).toMatchObject(identified(sources));
  });

  it('settles the ambiguous <namespace>-<container> split from spec.dump', async () => {
    // File name shop-prod-cart-api: could be shop/prod-cart-api or shop-prod/cart-api; spec.dump decides.
    const result = await identify({ namespace: 'shop', container: 'prod-cart-api', fileName: 'checkpoint-cart-7d9f8b6c4-x2k4p_shop-prod-cart-api-2024-01-28T00:10:45Z.tar' });
    expect(result).toMatchObject(identified(['cri-o'], { namespace: 'shop', pod: 'cart-7d9f8b6c4-x2k4p', container: 'prod-cart-api' }));
  });

  it.each([
    ['Podman spec.dump (io.container.manager: libpod only)', { runtime: 'podman' }, 'no Kubernetes identity annotations'],
    ['CRI-O minimal spec.dump (only Metadata)', { runtime: 'none', extraAnnotations: { 'io.kubernetes.cri-o.Metadata': '{}' } }, 'no Kubernetes identity annotations'],
    ['plain io.kubernetes.pod.* keys are not a source', { runtime: 'none', extraAnnotations: { 'io.kubernetes.pod.name': 'cart-7d9f8b6c4-x2k4p', 'io.kubernetes.pod.namespace': 'shop-prod' } }, 'no Kubernetes identity annotations'],
    ['no annotations at all', { specDumpOverride: { ociVersion: '1.0.2' } }, 'spec.dump has no annotations'],
    ['annotations is a list', { specDumpOverride: { annotations: ['a'] } }, 'annotations is not an object'],
    ['spec.dump is not JSON', { specDumpOverride: '{"annotations": {' }, 'spec.dump is not valid JSON'],
    ['spec.dump is a JSON array', { specDumpOverride: '[]' }, 'spec.dump is not a JSON object'],
    ['spec.dump is empty', { specDumpOverride: '' }, 'spec.dump is not valid JSON'],
    ['CRI-O labels is not a string', { extraAnnotations: undefined, specDumpOverride: { annotations: { 'io.kubernetes.cri-o.Labels': { ...allLabels } } } }, 'io.kubernetes.cri-o.Labels is not a string'],
    ['CRI-O labels is bad JSON', { extraAnnotations: { 'io.kubernetes.cri-o.Labels': '{"io.kubernetes.pod.name":' } }, 'io.kubernetes.cri-o.Labels is not valid JSON'],
    ['CRI-O labels is a JSON list', { extraAnnotations: { 'io.kubernetes.cri-o.Labels': '["shop-prod"]' } }, 'io.kubernetes.cri-o.Labels is not a JSON object'],
    ['CRI-O labels without identity keys', { extraAnnotations: { 'io.kubernetes.cri-o.Labels': '{"app":"cart"}' } }, 'names no pod, namespace or container'],
    ['CRI-O labels without container', { extraAnnotations: { 'io.kubernetes.cri-o.Labels': crioLabels({ ...allLabels, 'io.kubernetes.container.name': undefined }) } }, 'cri-o: io.kubernetes.cri-o.Labels is incomplete: io.kubernetes.container.name'],
    ['CRI-O labels with empty namespace', { extraAnnotations: { 'io.kubernetes.cri-o.Labels': crioLabels({ ...allLabels, 'io.kubernetes.pod.namespace': '' }) } }, 'io.kubernetes.pod.namespace missing, empty'],
    ['CRI-O labels with numeric pod', { extraAnnotations: { 'io.kubernetes.cri-o.Labels': crioLabels({ ...allLabels, 'io.kubernetes.pod.name': 7 }) } }, 'io.kubernetes.pod.name missing, empty or not a string'],
    ['containerd without sandbox name', { runtime: 'containerd', extraAnnotations: { 'io.kubernetes.cri.sandbox-name': undefined } }, 'containerd: containerd annotations is incomplete: io.kubernetes.cri.sandbox-name'],
    ['containerd container name only', { runtime: 'none', extraAnnotations: { 'io.kubernetes.cri.container-name': 'cart-api' } }, 'io.kubernetes.cri.sandbox-namespace, io.kubernetes.cri.sandbox-name'],
    ['criu without namespace', { runtime: 'criu', extraAnnotations: { 'org.criu.checkpoint.pod.namespace': undefined } }, 'criu: org.criu.checkpoint annotations is incomplete'],
    ['a complete source beside a partial one', { runtime: 'cri-o', extraAnnotations: { 'io.kubernetes.cri.sandbox-namespace': 'shop-prod' } }, 'containerd: containerd annotations is incomplete'],
    ['CRI-O and containerd name different containers', { runtime: 'cri-o', extraAnnotations: { ...containerdKeys, 'io.kubernetes.cri.container-name': 'cart-web' } }, 'sources disagree: cri-o says namespace=shop-prod pod=cart-7d9f8b6c4-x2k4p container=cart-api, containerd says namespace=shop-prod pod=cart-7d9f8b6c4-x2k4p container=cart-web'],
    ['containerd and criu name different namespaces', { runtime: 'containerd', extraAnnotations: { ...criuKeys, 'org.criu.checkpoint.pod.namespace': 'shop' } }, 'sources disagree: containerd says namespace=shop-prod'],
    ['spec.dump names another pod', { fileName: 'checkpoint-cart-0_shop-prod-cart-api-2024-01-28T00:10:45Z.tar' }, 'spec.dump names pod cart-7d9f8b6c4-x2k4p but the file name says cart-0'],
    ['spec.dump names another container', { fileName: 'checkpoint-cart-7d9f8b6c4-x2k4p_shop-prod-cart-web-2024-01-28T00:10:45Z.tar' }, 'spec.dump names shop-prod-cart-api (namespace-container) but the file name says shop-prod-cart-web'],
    ['namespace with upper case', { namespace: 'Shop-prod', fileName: 'checkpoint-cart-7d9f8b6c4-x2k4p_shop-prod-cart-api-2024-01-28T00:10:45Z.tar' }, 'namespace "Shop-prod" is not a valid Kubernetes name'],
    ['namespace of 64 characters', { namespace: 'n'.repeat(64) }, 'is not a valid Kubernetes name'],
    ['container with a dot', { container: 'cart.api', fileName: 'checkpoint-cart-7d9f8b6c4-x2k4p_shop-prod-cart-api-2024-01-28T00:10:45Z.tar' }, 'container "cart.api" is not a valid Kubernetes name'],
    ['pod with an underscore', { pod: 'cart_0', fileName: 'checkpoint-cart-0_shop-prod-cart-api-2024-01-28T00:10:45Z.tar' }, 'pod "cart_0" is not a valid Kubernetes name'],
    ['pod ending in a dash', { pod: 'cart-', fileName: 'checkpoint-cart-_shop-prod-cart-api-2024-01-28T00:10:45Z.tar' }, 'pod "cart-" is not a valid Kubernetes name'],
  ] as Array<[string, Partial<SampleArchiveOptions>, string]>)('unidentified: %s', async (_label, options, reasonPart) => {
    const result = await identify(options);
    expect(result).toMatchObject({ ok: false, reason: expect.stringContaining(reasonPart) });
  });

  async function identifyEntries(transform: (entries: TarEntrySpec[]) => TarEntrySpec[]) {
    const sub = await fs.mkdtemp(join(dir, 'entries-'));
    const fileName = sampleArchiveName(base);
    await writeTarFile(join(sub, fileName), transform(sampleArchiveEntries(base)));
    return readArchiveIdentity(join(sub, fileName), nameOf(fileName));
  }
  const withoutSpec = (entries: TarEntrySpec[]): TarEntrySpec[] => entries.filter((entry) => entry.name !== 'spec.dump');
  const specBody = JSON.stringify(sampleSpecDump(base));

  it.each([
    ['spec.dump missing', withoutSpec, 'spec.dump is missing from the archive'],
    ['spec.dump only nested', (entries: TarEntrySpec[]) => [...withoutSpec(entries), { name: 'checkpoint/spec.dump', body: specBody }], 'spec.dump is missing'],
    ['spec.dump is a directory', (entries: TarEntrySpec[]) => [...withoutSpec(entries), { name: 'spec.dump/', type: 'directory' }], 'spec.dump is not a regular file (tar type directory'],
    ['spec.dump is a symlink', (entries: TarEntrySpec[]) => [...withoutSpec(entries), { name: 'spec.dump', type: 'symlink', linkName: 'config.dump' }], 'spec.dump is not a regular file (tar type symlink'],
    ['spec.dump twice', (entries: TarEntrySpec[]) => [...entries, { name: './spec.dump', body: specBody }], 'spec.dump appears more than once'],
    ['spec.dump over the limit', (entries: TarEntrySpec[]) => [...withoutSpec(entries), { name: 'spec.dump', body: `${specBody.slice(0, -1)},"padding":"${'x'.repeat(MAX_DUMP_BYTES)}"}` }], `over the ${MAX_DUMP_BYTES}-byte limit`],
    ['spec.dump not UTF-8', (entries: TarEntrySpec[]) => [...withoutSpec(entries), { name: 'spec.dump', body: new Uint8Array([0x7b, 0xff, 0xfe, 0x7d]) }], 'spec.dump is not valid UTF-8'],
    ['./spec.dump is fine', (entries: TarEntrySpec[]) => [...withoutSpec(entries), { name: './spec.dump', body: specBody }], undefined],
  ] as Array<[string, (entries: TarEntrySpec[]) => TarEntrySpec[], string | undefined]>)('%s', async (_label, transform, reasonPart) => {
    const result = await identifyEntries(transform);
    if (reasonPart === undefined) expect(result.ok).toBe(true);
    else expect(result).toMatchObject({ ok: false, reason: expect.stringContaining(reasonPart) });
  });

  it.each([
    ['truncated in the middle', (bytes: Buffer) => bytes.subarray(0, Math.floor(bytes.length / 2)), 'unreadable tar: '],
    ['zero-length file', () => Buffer.alloc(0), 'unreadable tar: truncated archive'],
    ['not a tar at all', () => Buffer.from('PK\u0003\u0004 this is a zip file, not a tar'.repeat(40)), 'unreadable tar: '],
  ])('unreadable archive: %s', async (_label, mangle, reasonPart) => {
    const sub = await fs.mkdtemp(join(dir, 'bad-'));
    const fileName = await writeSampleArchive(sub, base);
    const path = join(sub, fileName);
    await fs.writeFile(path, mangle(await fs.readFile(path)));
    expect(await readArchiveIdentity(path, nameOf(fileName))).toMatchObject({ ok: false, reason: expect.stringContaining(reasonPart) });
  });

  it('reports a vanished file as a reason, not an exception', async () => {
    const fileName = sampleArchiveName(base);
    expect(await readArchiveIdentity(join(dir, 'gone', fileName), nameOf(fileName))).toEqual({
      ok: false,
      reason: expect.stringContaining('ENOENT'),
    });
  });

  it('identifies a 1 GiB archive whose spec.dump follows the memory image, reading under 1 MiB', async () => {
    const sub = await fs.mkdtemp(join(dir, 'big-'));
    const fileName = await writeSampleArchive(sub, { ...base, payloadBytes: 1024 ** 3, sparsePayload: true });
    const path = join(sub, fileName);
    expect((await fs.stat(path)).size).toBeGreaterThan(1024 ** 3);

    const opened = await openFileByteSource(path);
    if (!opened.ok) throw new Error(opened.reason);
    const counted = countReads(opened.value.source);
    const result = await readIdentityFrom(counted.source, nameOf(fileName));
    await opened.value.close();

    expect(result).toMatchObject(identified(['cri-o']));
    const { bytesRead, reads } = counted.stats();
    expect(bytesRead).toBeLessThan(1024 * 1024);
    expect(reads).toBeLessThanOrEqual(4);
  });
});

const label = fc
  .tuple(fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz0123456789'), fc.string({ unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz0123456789-'), maxLength: 30 }), fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz'))
  .map(([first, middle, last]) => `${first}${middle}${last}`);

describe('identity properties', () => {
  it('any valid identity written by any runtime in any tar format reads back unchanged', async () => {
    await fc.assert(
      fc.asyncProperty(
        label,
        fc.array(label, { minLength: 1, maxLength: 3 }).map((parts) => parts.join('.')),
        label,
        fc.constantFrom('cri-o', 'containerd', 'criu'),
        fc.constantFrom('ustar', 'gnu', 'pax'),
        async (namespace, pod, container, runtime, format) => {
          const options: SampleArchiveOptions = { namespace, pod, container, runtime, timestamp: new Date('2024-05-01T10:00:00Z'), payloadBytes: 600 };
          const bytes = encodeTar(sampleArchiveEntries(options), { format });
          const result = await readIdentityFrom(bufferByteSource(bytes), nameOf(sampleArchiveName(options)));
          expect(result).toMatchObject({ ok: true, value: { identity: { namespace, pod, container }, sources: [runtime] } });
        },
      ),
      { numRuns: numRuns(60) },
    );
  });

  it('never throws on arbitrary annotation values', async () => {
    const anyValue = fc.oneof(fc.string(), fc.jsonValue(), fc.constant(undefined));
    await fc.assert(
      fc.asyncProperty(anyValue, anyValue, anyValue, async (labels, sandboxName, criuNamespace) => {
        const options: SampleArchiveOptions = {
          ...base,
          runtime: 'none',
          specDumpOverride: {
            annotations: {
              'io.kubernetes.cri-o.Labels': labels,
              'io.kubernetes.cri.sandbox-name': sandboxName,
              'org.criu.checkpoint.pod.namespace': criuNamespace,
            },
          },
        };
        const bytes = encodeTar(sampleArchiveEntries(options));
        const result = await readIdentityFrom(bufferByteSource(bytes), nameOf(sampleArchiveName(options)));
        // None of these can be complete, so every outcome must be a reasoned refusal.
        expect(result).toMatchObject({ ok: false, reason: expect.any(String) });
      }),
      { numRuns: numRuns(100) },
    );
  });
});
