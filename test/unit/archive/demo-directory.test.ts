import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { parseArchiveName, pinTargetOf } from '../../../src/archive/archive-name.js';
import { readArchiveIdentity } from '../../../src/archive/identity.js';
import type { ArchiveContents, ArchiveIdentity } from '../../../src/archive/types.js';
import { findBinary } from '../../support/binaries.js';
import { makeTempDir, writeDemoCheckpointDirectory } from '../../support/archives.js';

const NOW = new Date('2024-06-15T12:00:00Z');
/** The default per-container limit the demo is meant to exceed. */
const DEFAULT_MAX_PER_CONTAINER = 10;

describe('writeDemoCheckpointDirectory', () => {
  let dir: string;
  let remove: () => Promise<void>;
  let files: string[];
  let demo: Awaited<ReturnType<typeof writeDemoCheckpointDirectory>>;
  const identities = new Map<string, ArchiveIdentity | string>();
  const contents = new Map<string, ArchiveContents | undefined>();

  beforeAll(async () => {
    ({ dir, remove } = await makeTempDir());
    demo = await writeDemoCheckpointDirectory(join(dir, 'checkpoints'), { now: NOW });
    files = (await fs.readdir(join(dir, 'checkpoints'))).sort();
    for (const fileName of demo.archives) {
      const name = parseArchiveName(fileName);
      if (!name.ok) throw new Error(name.reason);
      const result = await readArchiveIdentity(join(dir, 'checkpoints', fileName), name.value);
      identities.set(fileName, result.ok ? result.value.identity : result.reason);
      contents.set(fileName, result.ok ? result.value.contents : result.contents);
    }
  });
  afterAll(() => remove());

  it('writes exactly the archives, pins and foreign files it reports', () => {
    expect(demo.archives).toEqual(expect.arrayContaining([...demo.compressed, ...demo.unrestorable, ...demo.unidentified]));
    expect(files).toEqual([...demo.archives, ...demo.pins, ...demo.foreign].sort());
  });

  it('has a container over the default per-container limit, with one of its archives pinned', () => {
    const perContainer = new Map<string, string[]>();
    for (const [fileName, identity] of identities) {
      if (typeof identity === 'string') continue;
      const key = `${identity.namespace}/${identity.pod}/${identity.container}`;
      perContainer.set(key, [...(perContainer.get(key) ?? []), fileName]);
    }
    const over = [...perContainer].filter(([, archives]) => archives.length > DEFAULT_MAX_PER_CONTAINER);
    expect(over.map(([key, archives]) => [key, archives.length])).toEqual([['shop-prod/cart-7d9f8b6c4-x2k4p/cart-api', 13]]);
    const pinned = demo.pins.map(pinTargetOf);
    expect(pinned).toHaveLength(1);
    expect(over[0]?.[1]).toContain(pinned[0]);
  });

  it('spans several namespaces with dashes in namespace and container names', () => {
    const namespaces = new Set([...identities.values()].flatMap((identity) => (typeof identity === 'string' ? [] : [identity.namespace])));
    expect(namespaces.size).toBeGreaterThanOrEqual(4);
    expect(namespaces).toContain('shop-prod');
  });

  it('has exactly one unidentified archive and one foreign file', () => {
    const unidentified = [...identities].filter(([, identity]) => typeof identity === 'string').map(([fileName]) => fileName);
    expect(unidentified).toEqual(demo.unidentified);
    expect(unidentified).toHaveLength(1);
    expect(demo.foreign).toEqual(['notes.txt']);
    expect(parseArchiveName('notes.txt').ok).toBe(false);
  });

  it('has one identified gzip archive, named .tar, whose memory is larger than the file', async () => {
    expect(demo.compressed).toHaveLength(1);
    const fileName = demo.compressed[0] ?? '';
    expect(fileName.endsWith('.tar')).toBe(true);
    expect(typeof identities.get(fileName)).toBe('object');
    const size = (await fs.stat(join(dir, 'checkpoints', fileName))).size;
    expect(contents.get(fileName)).toMatchObject({ compression: 'gzip', otherBytes: 0, missing: [] });
    expect(contents.get(fileName)?.memoryBytes).toBeGreaterThan(size);
    // Every other archive is a plain tar.
    expect([...contents].filter(([, c]) => c?.compression !== undefined).map(([name]) => name)).toEqual(demo.compressed);
  });

  it('has one identified archive without checkpoint/inventory.img: not restorable; every other one is', () => {
    expect(demo.unrestorable).toHaveLength(1);
    const fileName = demo.unrestorable[0] ?? '';
    expect(typeof identities.get(fileName)).toBe('object');
    expect([...contents].filter(([, c]) => (c?.missing.length ?? 0) > 0)).toEqual([[fileName, expect.objectContaining({ missing: ['checkpoint/inventory.img'] })]]);
  });

  it('lays out archives as CRI-O and as containerd write them', () => {
    expect([...contents.values()].every((c) => c !== undefined && c.memoryBytes > 0 && c.checkpointOtherBytes > 0 && c.rootfsDiffBytes > 0)).toBe(true);
  });

  it('stays small and dates archives relative to now, mtime matching the name', async () => {
    let total = 0;
    for (const fileName of files) {
      const stat = await fs.stat(join(dir, 'checkpoints', fileName));
      total += stat.size;
      const name = parseArchiveName(fileName);
      if (name.ok) {
        expect(name.value.timestampMs).toBeLessThan(NOW.getTime());
        expect(stat.mtimeMs).toBe(name.value.timestampMs);
      }
    }
    expect(total).toBeLessThan(20 * 1024 * 1024);
  });

  const tar = findBinary('tar', 'tar');
  (tar === undefined ? it.skip : it)('writes archives GNU tar reads without complaint', () => {
    const first = demo.archives[0] ?? '';
    const listing = execFileSync(tar as string, ['-tf', join(dir, 'checkpoints', first)], { encoding: 'utf8' });
    expect(listing.split('\n')).toEqual(expect.arrayContaining(['checkpoint/', 'checkpoint/pages-1.img', 'config.dump', 'spec.dump', 'rootfs-diff.tar', 'stats-dump']));
  });
});
