import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { inspectArchive } from '../../../src/archive/inspect.js';
import { makeTempDir, sampleArchiveEntries, sampleArchiveName, writeSampleArchive, writeTarFile, type SampleArchiveOptions } from '../../support/archives.js';

const base: SampleArchiveOptions = {
  namespace: 'shop-prod',
  pod: 'cart-0',
  container: 'cart-api',
  timestamp: '2024-03-10T14:05:00+01:00',
  runtime: 'cri-o',
  image: 'registry.example.com/shop/cart-api:2.3.1',
};

describe('inspectArchive', () => {
  let dir: string;
  let remove: () => Promise<void>;
  beforeAll(async () => {
    ({ dir, remove } = await makeTempDir());
  });
  afterAll(() => remove());

  it('shows name, identity, config.dump fields and every entry of a 1 GiB archive', async () => {
    const fileName = await writeSampleArchive(dir, { ...base, payloadBytes: 1024 ** 3, sparsePayload: true });
    const inspected = await inspectArchive(join(dir, fileName));
    expect(inspected.ok).toBe(true);
    if (!inspected.ok) return;
    const value = inspected.value;
    expect(value.sizeBytes).toBe((await fs.stat(join(dir, fileName))).size);
    expect(value.name).toEqual(expect.objectContaining({ pod: 'cart-0', namespaceContainer: 'shop-prod-cart-api', timestampMs: Date.UTC(2024, 2, 10, 13, 5) }));
    expect(value.identity).toEqual({ ok: true, value: { identity: { namespace: 'shop-prod', pod: 'cart-0', container: 'cart-api' }, sources: ['cri-o'] } });
    expect(value.config).toEqual({
      ok: true,
      value: expect.objectContaining({ rootfsImageName: 'registry.example.com/shop/cart-api:2.3.1', runtime: 'runc', checkpointedTime: '2024-03-10T14:05:00+01:00' }),
    });
    const pages = value.entries.find((entry) => entry.name === 'checkpoint/pages-1.img');
    expect(pages).toEqual(expect.objectContaining({ type: 'file', size: 1024 ** 3 }));
    expect(value.entries.map((entry) => entry.name)).toEqual(sampleArchiveEntries(base).map((entry) => entry.name.replace(/\/$/, '')));
    // What fills it: the memory image, to the byte; the parts sum to the file size.
    const { contents } = value;
    expect(contents).toMatchObject({ memoryBytes: 1024 ** 3, missing: [] });
    expect(contents.compression).toBeUndefined();
    expect(contents.memoryBytes + contents.checkpointOtherBytes + contents.rootfsDiffBytes + contents.otherBytes).toBe(value.sizeBytes);
  });

  it('says which restore entry an archive lacks', async () => {
    const sub = await fs.mkdtemp(join(dir, 'unrestorable-'));
    const fileName = await writeSampleArchive(sub, { ...base, omitEntries: ['checkpoint/inventory.img'] });
    const inspected = await inspectArchive(join(sub, fileName));
    expect(inspected).toMatchObject({ ok: true, value: { identity: { ok: true }, contents: { missing: ['checkpoint/inventory.img'] } } });
  });

  it.each([
    ['empty config.dump object', { configDumpOverride: {} }, { ok: true, value: {} }],
    ['config.dump with odd field types', { configDumpOverride: { id: 42, runtime: 'crun', name: null } }, { ok: true, value: { runtime: 'crun' } }],
    ['config.dump not JSON', { configDumpOverride: 'not json' }, { ok: false, reason: expect.stringContaining('config.dump is not valid JSON') }],
  ] as Array<[string, Partial<SampleArchiveOptions>, unknown]>)('%s', async (_label, options, expected) => {
    const sub = await fs.mkdtemp(join(dir, 'config-'));
    const fileName = await writeSampleArchive(sub, { ...base, ...options });
    const inspected = await inspectArchive(join(sub, fileName));
    expect(inspected.ok && inspected.value.config).toEqual(expected);
  });

  it('explains an unidentified archive and a missing config.dump while still listing entries', async () => {
    const options: SampleArchiveOptions = { ...base, runtime: 'podman' };
    const fileName = sampleArchiveName(options);
    const entries = sampleArchiveEntries(options).filter((entry) => entry.name !== 'config.dump');
    await writeTarFile(join(dir, fileName), entries);
    const inspected = await inspectArchive(join(dir, fileName));
    expect(inspected.ok).toBe(true);
    if (!inspected.ok) return;
    expect(inspected.value.identity).toEqual({ ok: false, reason: expect.stringContaining('no Kubernetes identity annotations') });
    expect(inspected.value.config).toEqual({ ok: false, reason: 'config.dump is missing from the archive' });
    expect(inspected.value.entries).toHaveLength(entries.length);
  });

  it.each([
    ['a file name that is not an archive name', 'backup.tar', 'not a checkpoint archive name'],
    ['a missing archive', 'checkpoint-a_b-c-2024-01-01T00:00:00Z.tar', 'ENOENT'],
  ])('refuses %s', async (_label, fileName, reasonPart) => {
    expect(await inspectArchive(join(dir, fileName))).toEqual({ ok: false, reason: expect.stringContaining(reasonPart) });
  });
});
