import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { identifyPodArchive, MAX_POD_ARCHIVE_CONTAINERS, OTHER_CONTAINERS, podContentsOf, readPodArchiveContents } from '../../../src/archive/pod-archive-contents.js';
import { writeSamplePodArchive } from '../../../src/demo/sample-pod-archives.js';
import type { TarEntry } from '../../../src/archive/tar-reader.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pod-archive-contents-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const entry = (name: string, size: number): TarEntry => ({ name, type: 'file', typeflag: '0', size, offset: 0, linkName: '' }) as TarEntry;

describe('pod archive contents, from headers only', () => {
  it('a sample pod archive: parts per container directory summing to the file size, and a breakdown per container', async () => {
    const fileName = await writeSamplePodArchive(dir, { namespace: 'default', pod: 'web-0', containers: ['nginx', 'log-shipper'], timestamp: new Date('2026-03-01T00:00:00Z'), payloadBytes: 8192 });
    const size = (await stat(join(dir, fileName))).size;
    const read = await readPodArchiveContents(join(dir, fileName));
    expect(read.ok).toBe(true);
    if (!read.ok || read.value === undefined) throw new Error('unreadable');
    const { contents, containers } = read.value;
    expect(contents.memoryBytes).toBe(2 * 8192);
    expect(contents.rootfsDiffBytes).toBeGreaterThan(0);
    expect(contents.memoryBytes + contents.checkpointOtherBytes + contents.rootfsDiffBytes + contents.otherBytes).toBe(size);
    expect([...containers.keys()].sort()).toEqual(['log-shipper', 'nginx']);
    expect(containers.get('nginx')).toBeGreaterThan(8192);
  });

  it('identity comes from the name even when the content is not a tar at all', async () => {
    const path = join(dir, 'checkpoint-web-1_default-2026-03-01T00:00:00Z.tar');
    await writeFile(path, 'not a tar archive, and longer than nothing'.repeat(20));
    const read = await identifyPodArchive(path, 'default', 'web-1');
    expect(read).toEqual({ ok: true, value: { identity: { namespace: 'default', pod: 'web-1', container: '' }, sources: [] } });
  });

  it('a top-level checkpoint/ directory is not a container, and the breakdown is capped', () => {
    const entries = [entry('checkpoint/pages-1.img', 100), entry('pod.dump', 10)];
    for (let i = 0; i < MAX_POD_ARCHIVE_CONTAINERS + 5; i += 1) entries.push(entry(`c${i}/spec.dump`, 1), entry(`c${i}/checkpoint/pages-1.img`, 2));
    const { contents, containers } = podContentsOf(entries, 10_000);
    expect(contents.memoryBytes).toBe(100 + 2 * (MAX_POD_ARCHIVE_CONTAINERS + 5));
    expect(containers.size).toBe(MAX_POD_ARCHIVE_CONTAINERS + 1);
    expect(containers.get(OTHER_CONTAINERS)).toBe(5 * 3);
    expect(containers.has('checkpoint')).toBe(false);
  });
});
