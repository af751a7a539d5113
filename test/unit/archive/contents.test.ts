import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { walkArchive } from '../../../src/archive/archive-walk.js';
import { bufferByteSource } from '../../support/byte-sources.js';
import { DEFAULT_DECOMPRESSION_LIMITS } from '../../../src/archive/compressed.js';
import { contentPartOf, RESTORE_ENTRIES } from '../../../src/archive/contents.js';
import type { ArchiveContents, ContentPart } from '../../../src/archive/types.js';
import { encodeTar, sampleArchiveEntries, type TarEntrySpec, type TarFormat } from '../../support/archives.js';
import { numRuns } from '../../support/properties.js';

async function contentsOf(bytes: Uint8Array): Promise<ArchiveContents> {
  const walked = await walkArchive(bufferByteSource(bytes), { bodies: [], maxBodyBytes: 0, compressed: DEFAULT_DECOMPRESSION_LIMITS });
  if (!walked.ok) throw new Error(walked.reason);
  return walked.value.contents;
}

const total = (c: ArchiveContents): number => c.memoryBytes + c.checkpointOtherBytes + c.rootfsDiffBytes + c.otherBytes;

describe('contentPartOf', () => {
  it.each([
    ['checkpoint/pages-1.img', 'memory'],
    ['checkpoint/pages-12.img', 'memory'],
    ['checkpoint/pagemap-1.img', 'checkpoint_other'],
    ['checkpoint/inventory.img', 'checkpoint_other'],
    ['checkpoint/sub/pages-1.img', 'checkpoint_other'],
    ['checkpoint', 'other'],
    ['rootfs-diff.tar', 'rootfs_diff'],
    ['x/rootfs-diff.tar', 'other'],
    ['pages-1.img', 'other'],
    ['spec.dump', 'other'],
    ['stats-dump', 'other'],
  ] as Array<[string, ContentPart]>)('%s is %s', (name, part) => {
    expect(contentPartOf(name)).toBe(part);
  });
});

describe('archive composition', () => {
  it('counts each part of a runtime archive; every header and padding byte is in other', async () => {
    const entries = sampleArchiveEntries({ namespace: 'a', pod: 'b', container: 'c', timestamp: '2024-01-01T00:00:00Z', runtime: 'cri-o', payloadBytes: 10_000 });
    const bytes = encodeTar(entries);
    const contents = await contentsOf(bytes);
    const size = (entry: TarEntrySpec): number => (typeof entry.body === 'string' ? new TextEncoder().encode(entry.body).length : (entry.body?.length ?? 0));
    const named = (test: (name: string) => boolean): number => entries.filter((e) => test(e.name)).reduce((sum, e) => sum + size(e), 0);
    expect(contents).toEqual({
      memoryBytes: 10_000,
      checkpointOtherBytes: named((n) => n.startsWith('checkpoint/') && n !== 'checkpoint/pages-1.img'),
      rootfsDiffBytes: named((n) => n === 'rootfs-diff.tar'),
      otherBytes: bytes.length - 10_000 - named((n) => n.startsWith('checkpoint/') && n !== 'checkpoint/pages-1.img') - named((n) => n === 'rootfs-diff.tar'),
      missing: [],
    });
    expect(total(contents)).toBe(bytes.length);
  });

  it.each([
    ['checkpoint/inventory.img', ['checkpoint/inventory.img']],
    ['config.dump', ['config.dump']],
    ['spec.dump', ['spec.dump']],
  ])('names a missing restore entry: without %s', async (left, missing) => {
    const entries = sampleArchiveEntries({ namespace: 'a', pod: 'b', container: 'c', timestamp: '2024-01-01T00:00:00Z', runtime: 'containerd', omitEntries: [left] });
    expect((await contentsOf(encodeTar(entries))).missing).toEqual(missing);
  });

  it('does not count a restore entry that is a directory or a link', async () => {
    const bytes = encodeTar([
      { name: 'spec.dump', body: '{}' },
      { name: 'config.dump', type: 'symlink', linkName: 'spec.dump' },
      { name: 'checkpoint/inventory.img/', type: 'directory' },
    ]);
    expect((await contentsOf(bytes)).missing).toEqual(['config.dump', 'checkpoint/inventory.img']);
  });

  it('parts of any plain tar are never negative and sum exactly to its size, in every tar format', async () => {
    const name = fc.constantFrom(
      'checkpoint/pages-1.img',
      'checkpoint/pages-2.img',
      'checkpoint/core-1.img',
      'checkpoint/inventory.img',
      'rootfs-diff.tar',
      'spec.dump',
      'config.dump',
      'stats-dump',
      `checkpoint/${'long-image-name-'.repeat(8)}.img`,
      `${'deep/'.repeat(30)}file`,
    );
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ name, size: fc.nat(5000) }), { maxLength: 14 }),
        fc.constantFrom<TarFormat>('gnu', 'pax'),
        async (specs, format) => {
          const bytes = encodeTar(
            specs.map(({ name: n, size }) => ({ name: n, body: new Uint8Array(size) })),
            { format },
          );
          const contents = await contentsOf(bytes);
          const sum = (part: ContentPart): number => specs.filter((s) => contentPartOf(s.name) === part).reduce((acc, s) => acc + s.size, 0);
          expect([contents.memoryBytes, contents.checkpointOtherBytes, contents.rootfsDiffBytes]).toEqual([sum('memory'), sum('checkpoint_other'), sum('rootfs_diff')]);
          expect(contents.otherBytes).toBeGreaterThanOrEqual(0);
          expect(total(contents)).toBe(bytes.length);
          expect(contents.missing).toEqual(RESTORE_ENTRIES.filter((entry) => !specs.some((s) => s.name === entry)));
        },
      ),
      { numRuns: numRuns(150) },
    );
  });
});
