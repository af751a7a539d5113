import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { promises as fs, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArchiveName } from '../../../src/archive/archive-name.js';
import { readArchiveIdentity } from '../../../src/archive/identity.js';
import type { ParsedArchiveName } from '../../../src/archive/types.js';
import { findBinary } from '../../support/binaries.js';
import { makeTempDir, sampleArchiveEntries, sampleSpecDump, writeSampleArchive, type SampleArchiveOptions } from '../../support/archives.js';

/**
 * Archives laid out exactly as the runtimes write them, from the project's own generator: the entry
 * names and their order, and spec.dump/config.dump in the shapes real runtimes produce (compared
 * with samples a CRI-O and a Podman checkpoint really contained, kept in fixtures/).
 */

const FIXTURES = fileURLToPath(new URL('./fixtures/', import.meta.url));
const fixture = (path: string): Record<string, unknown> => JSON.parse(readFileSync(join(FIXTURES, path), 'utf8')) as Record<string, unknown>;

const CRIO_ORDER = ['stats-dump', 'dump.log', 'checkpoint/', 'config.dump', 'spec.dump', 'bind.mounts', 'rootfs-diff.tar'];
const CONTAINERD_ORDER = ['checkpoint/', 'rootfs-diff.tar', 'status', 'stats-dump', 'dump.log', 'container.log', 'spec.dump', 'config.dump', 'status.dump'];

/** Top-level entries in order, the CRIU image directory standing for all its images. */
function topLevel(names: readonly string[]): string[] {
  const seen: string[] = [];
  for (const name of names) {
    const top = name.includes('/') ? `${name.split('/')[0]}/` : name;
    if (seen[seen.length - 1] !== top) seen.push(top);
  }
  return seen;
}

function nameOf(fileName: string): ParsedArchiveName {
  const parsed = parseArchiveName(fileName);
  if (!parsed.ok) throw new Error(parsed.reason);
  return parsed.value;
}

const crio: SampleArchiveOptions = { namespace: 'shop-prod', pod: 'cart-0', container: 'cart-api', timestamp: '2024-01-28T00:10:45Z', runtime: 'cri-o', payloadBytes: 200_000 };
const containerd: SampleArchiveOptions = { ...crio, runtime: 'containerd' };

describe('runtime layouts', () => {
  let dir: string;
  let remove: () => Promise<void>;
  beforeAll(async () => {
    ({ dir, remove } = await makeTempDir());
  });
  afterAll(() => remove());

  it.each([
    ['CRI-O', crio, CRIO_ORDER],
    ['containerd', containerd, CONTAINERD_ORDER],
  ] as const)('%s: entries in the order the runtime writes them, the memory pages before spec.dump', (_runtime, options, order) => {
    const names = sampleArchiveEntries(options).map((entry) => entry.name);
    expect(topLevel(names)).toEqual(order);
    expect(names.indexOf('checkpoint/pages-1.img')).toBeLessThan(names.indexOf('spec.dump'));
    expect(names).toEqual(expect.arrayContaining(['checkpoint/inventory.img', 'checkpoint/pages-1.img', 'checkpoint/pstree.img']));
  });

  it.each([
    ['CRI-O', crio, ['cri-o']],
    ['containerd', containerd, ['containerd']],
  ] as const)('%s: identified, restorable, its parts summing to the file size', async (_runtime, options, sources) => {
    const sub = await fs.mkdtemp(join(dir, 'layout-'));
    const fileName = await writeSampleArchive(sub, options);
    const size = (await fs.stat(join(sub, fileName))).size;
    const read = await readArchiveIdentity(join(sub, fileName), nameOf(fileName));
    expect(read.ok).toBe(true);
    if (!read.ok) return;
    expect(read.value.identity).toEqual({ namespace: 'shop-prod', pod: 'cart-0', container: 'cart-api' });
    expect(read.value.sources).toEqual(sources);
    const contents = read.value.contents;
    expect(contents?.missing).toEqual([]);
    expect(contents?.memoryBytes).toBe(200_000);
    expect(contents?.rootfsDiffBytes).toBeGreaterThan(0);
    expect((contents?.memoryBytes ?? 0) + (contents?.checkpointOtherBytes ?? 0) + (contents?.rootfsDiffBytes ?? 0) + (contents?.otherBytes ?? 0)).toBe(size);
  });

  it('CRI-O: spec.dump carries every annotation a real CRI-O spec.dump carries, config.dump every field of a real one', () => {
    const real = fixture('cri-o/spec.dump');
    const generated = sampleSpecDump(crio);
    const realKeys = Object.keys(real['annotations'] as Record<string, string>).sort();
    expect(Object.keys(generated['annotations'] as Record<string, string>).sort()).toEqual(realKeys);
    // The labels annotation is itself JSON with the same keys.
    const labels = (dump: Record<string, unknown>): string[] => Object.keys(JSON.parse((dump['annotations'] as Record<string, string>)['io.kubernetes.cri-o.Labels'] ?? '{}') as object).sort();
    expect(labels(generated)).toEqual(labels(real));

    const config = sampleArchiveEntries(crio).find((entry) => entry.name === 'config.dump');
    const generatedConfig = JSON.parse(String(config?.body)) as Record<string, unknown>;
    expect(Object.keys(generatedConfig).sort()).toEqual(Object.keys(fixture('cri-o/config.dump')).sort());
  });

  it('containerd: spec.dump carries the io.kubernetes.cri.* annotations, status.dump and status are JSON', () => {
    const entries = sampleArchiveEntries(containerd);
    const text = (name: string): string => String(entries.find((entry) => entry.name === name)?.body);
    const annotations = (JSON.parse(text('spec.dump')) as { annotations: Record<string, string> }).annotations;
    expect(annotations).toMatchObject({
      'io.kubernetes.cri.sandbox-namespace': 'shop-prod',
      'io.kubernetes.cri.sandbox-name': 'cart-0',
      'io.kubernetes.cri.container-name': 'cart-api',
      'io.kubernetes.cri.container-type': 'container',
    });
    expect(Object.keys(annotations).every((key) => key.startsWith('io.kubernetes.cri.'))).toBe(true);
    expect(() => JSON.parse(text('status.dump'))).not.toThrow();
    expect(() => JSON.parse(text('status'))).not.toThrow();
    expect(Object.keys(JSON.parse(text('config.dump')) as object).sort()).toEqual(Object.keys(fixture('cri-o/config.dump')).sort());
  });

  it('a Podman spec.dump, as a real one looks, leaves the archive unidentified while its parts are still counted', async () => {
    const sub = await fs.mkdtemp(join(dir, 'podman-'));
    const options: SampleArchiveOptions = { ...crio, runtime: 'podman', specDumpOverride: fixture('podman/spec.dump'), configDumpOverride: fixture('podman/config.dump') };
    const fileName = await writeSampleArchive(sub, options);
    const read = await readArchiveIdentity(join(sub, fileName), nameOf(fileName));
    expect(read).toMatchObject({ ok: false, reason: expect.stringContaining('no Kubernetes identity annotations'), contents: { memoryBytes: 200_000, missing: [] } });
  });

  const tar = findBinary('tar', 'tar');
  (tar === undefined ? it.skip : it).each([
    ['CRI-O', crio, CRIO_ORDER],
    ['containerd', containerd, CONTAINERD_ORDER],
  ] as const)('%s: GNU tar lists the archive in the same order', async (_runtime, options, order) => {
    const sub = await fs.mkdtemp(join(dir, 'gnu-'));
    const fileName = await writeSampleArchive(sub, options);
    const listing = execFileSync(tar as string, ['-tf', join(sub, fileName)], { encoding: 'utf8' }).split('\n').filter(Boolean);
    expect(topLevel(listing)).toEqual(order);
  });
});
