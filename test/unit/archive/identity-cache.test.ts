import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { parseArchiveName } from '../../../src/archive/archive-name.js';
import { readArchiveIdentity } from '../../../src/archive/identity.js';
import { createIdentityCache, type IdentityReader } from '../../../src/archive/identity-cache.js';
import type { FileFingerprint, ParsedArchiveName } from '../../../src/archive/types.js';
import { makeTempDir, writeSampleArchive } from '../../support/archives.js';

function nameOf(fileName: string): ParsedArchiveName {
  const parsed = parseArchiveName(fileName);
  if (!parsed.ok) throw new Error(parsed.reason);
  return parsed.value;
}

async function fingerprintOf(path: string): Promise<FileFingerprint> {
  const stat = await fs.stat(path);
  return { dev: stat.dev, ino: stat.ino, size: stat.size, mtimeMs: stat.mtimeMs };
}

describe('createIdentityCache', () => {
  let dir: string;
  let remove: () => Promise<void>;
  let reads: string[];
  let countingReader: IdentityReader;
  beforeAll(async () => {
    ({ dir, remove } = await makeTempDir());
  });
  afterAll(() => remove());

  const fresh = () => {
    reads = [];
    countingReader = (path, name) => {
      reads.push(path);
      return readArchiveIdentity(path, name);
    };
    return createIdentityCache(countingReader);
  };

  it('reads each archive once per fingerprint, for identified and unidentified archives alike', async () => {
    const cache = fresh();
    const good = await writeSampleArchive(dir, { namespace: 'payments', pod: 'ledger-0', container: 'ledger', timestamp: '2024-02-01T08:00:00Z', runtime: 'containerd' });
    const podman = await writeSampleArchive(dir, { namespace: 'default', pod: 'legacy', container: 'app', timestamp: '2024-02-01T08:00:00Z', runtime: 'podman' });
    for (let round = 0; round < 3; round += 1) {
      const first = await cache.get(join(dir, good), nameOf(good), await fingerprintOf(join(dir, good)));
      const second = await cache.get(join(dir, podman), nameOf(podman), await fingerprintOf(join(dir, podman)));
      expect(first.ok).toBe(true);
      expect(second.ok).toBe(false);
    }
    expect(reads).toEqual([join(dir, good), join(dir, podman)]);
    expect(cache.size).toBe(2);
  });

  it('shares one read between concurrent gets of the same archive', async () => {
    const cache = fresh();
    const fileName = await writeSampleArchive(dir, { namespace: 'batch', pod: 'report-1', container: 'report', timestamp: '2024-02-02T08:00:00Z', runtime: 'criu' });
    const path = join(dir, fileName);
    const fingerprint = await fingerprintOf(path);
    const results = await Promise.all(Array.from({ length: 8 }, () => cache.get(path, nameOf(fileName), fingerprint)));
    expect(reads).toHaveLength(1);
    expect(new Set(results).size).toBe(1);
    expect(results[0]).toMatchObject({ ok: true, value: { identity: { namespace: 'batch', pod: 'report-1', container: 'report' }, sources: ['criu'] } });
  });

  it('reads again when the file is replaced (new inode, size or mtime)', async () => {
    const cache = fresh();
    const options = { namespace: 'shop', pod: 'web-0', container: 'nginx', timestamp: '2024-02-03T08:00:00Z', runtime: 'podman' } as const;
    const fileName = await writeSampleArchive(dir, options);
    const path = join(dir, fileName);
    const before = await cache.get(path, nameOf(fileName), await fingerprintOf(path));
    expect(before.ok).toBe(false);

    await fs.rm(path);
    await writeSampleArchive(dir, { ...options, runtime: 'cri-o', mtime: new Date('2024-02-03T09:00:00Z') });
    const after = await cache.get(path, nameOf(fileName), await fingerprintOf(path));
    expect(after.ok).toBe(true);
    expect(reads).toEqual([path, path]);
  });

  it('keys on the file name too: a renamed archive must agree with its new name', async () => {
    const cache = fresh();
    const fileName = await writeSampleArchive(dir, { namespace: 'shop', pod: 'web-1', container: 'nginx', timestamp: '2024-02-04T08:00:00Z', runtime: 'cri-o' });
    const renamed = 'checkpoint-web-2_shop-nginx-2024-02-04T08:00:00Z.tar';
    await fs.rename(join(dir, fileName), join(dir, renamed));
    const fingerprint = await fingerprintOf(join(dir, renamed));
    const asRenamed = await cache.get(join(dir, renamed), nameOf(renamed), fingerprint);
    expect(asRenamed).toMatchObject({ ok: false, reason: expect.stringContaining('file name says web-2') });
    expect(reads).toHaveLength(1);
  });

  it('retain drops archives that are gone and keeps the live ones cached', async () => {
    const cache = fresh();
    const names = await Promise.all(
      ['a', 'b', 'c'].map((pod) => writeSampleArchive(dir, { namespace: 'retain', pod, container: 'app', timestamp: '2024-02-05T08:00:00Z', runtime: 'cri-o' })),
    );
    const records = await Promise.all(names.map(async (fileName) => ({ fileName, fingerprint: await fingerprintOf(join(dir, fileName)) })));
    for (const record of records) await cache.get(join(dir, record.fileName), nameOf(record.fileName), record.fingerprint);
    expect(cache.retain(records.slice(1))).toBe(1);
    expect(cache.size).toBe(2);
    for (const record of records) await cache.get(join(dir, record.fileName), nameOf(record.fileName), record.fingerprint);
    expect(reads.map((path) => path.slice(dir.length + 1))).toEqual([...names, names[0]]);
  });

  it('turns a reader that throws into an unidentified reason', async () => {
    const cache = createIdentityCache(async () => {
      throw new Error('disk on fire');
    });
    const fileName = 'checkpoint-web-0_shop-nginx-2024-02-06T08:00:00Z.tar';
    expect(await cache.get(join(dir, fileName), nameOf(fileName), { dev: 1, ino: 2, size: 3, mtimeMs: 4 })).toEqual({
      ok: false,
      reason: 'identity read failed: Error: disk on fire',
    });
  });
});
