import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { join } from 'node:path';
import type { ArchiveIdentity } from '../../../src/archive/types.js';
import { runInspect } from '../../../src/cli/inspect.js';
import { formatLs } from '../../../src/cli/ls.js';
import type { ArchiveRecord } from '../../../src/inventory/types.js';
import { makeTempDir, writeSampleArchive, type SampleArchiveOptions } from '../../support/archives.js';
import { archiveRecord, inventorySnapshot } from '../../support/snapshots.js';

const cart: ArchiveIdentity = { namespace: 'shop-prod', pod: 'cart-0', container: 'cart-api' };

function withParts(record: ArchiveRecord, memory: number, restorable = true, compression?: 'gzip'): ArchiveRecord {
  return {
    ...record,
    memoryBytes: memory,
    checkpointOtherBytes: 4096,
    rootfsDiffBytes: 3072,
    otherBytes: 1024,
    restorable,
    missingEntries: restorable ? [] : ['config.dump'],
    compression,
  };
}

describe('ls -o wide', () => {
  const records = [
    withParts(archiveRecord(cart, { timestamp: '2026-01-01T10:00:00Z', size: 2 * 1024 * 1024 + 8192 }), 2 * 1024 * 1024),
    withParts(archiveRecord(cart, { timestamp: '2026-01-01T11:00:00Z', size: 1024 * 1024 + 8192 }), 1024 * 1024, false),
    withParts(archiveRecord(undefined, { timestamp: '2026-01-02T00:00:00Z', size: 5000, pod: 'x-0', remainder: 'ns-c' }), 40 * 1024 * 1024, false, 'gzip'),
  ];
  const snapshot = inventorySnapshot(records);

  it('adds each container’s composition and unrestorable count, and the node total', () => {
    const text = formatLs(snapshot, '/checkpoints', 'wide');
    const [header, row] = text.split('\n');
    expect(header?.split(/\s{2,}/)).toEqual(['NAMESPACE', 'POD', 'CONTAINER', 'ARCHIVES', 'PINNED', 'SIZE', 'MEMORY', 'CHECKPOINT-OTHER', 'ROOTFS-DIFF', 'OTHER', 'UNRESTORABLE', 'OLDEST', 'NEWEST']);
    expect(row?.split(/\s{2,}/).slice(0, 11)).toEqual(['shop-prod', 'cart-0', 'cart-api', '2', '0', '3.0 MiB', '3.0 MiB', '8.0 KiB', '6.0 KiB', '2.0 KiB', '1']);
    expect(text).toContain('all archives: memory 43 MiB, checkpoint_other 12 KiB, rootfs_diff 9.0 KiB, other 3.0 KiB; 2 not restorable, 1 compressed');
    expect(text).toContain('identified archives that cannot be restored: 1\n  checkpoint-cart-0_shop-prod-cart-api-2026-01-01T11:00:00Z.tar  config.dump missing');
    expect(text).toMatch(/checkpoint-x-0_ns-c-2026-01-02T00:00:00Z\.tar .*\(gzip; not restorable: config\.dump missing\)/);
  });

  it('leaves the default table as it was', () => {
    const text = formatLs(snapshot, '/checkpoints');
    expect(text.split('\n')[0]?.split(/\s{2,}/)).toEqual(['NAMESPACE', 'POD', 'CONTAINER', 'ARCHIVES', 'PINNED', 'SIZE', 'OLDEST', 'NEWEST']);
    expect(text).not.toContain('memory');
    expect(text).not.toContain('gzip');
  });

  it('shows - where no archive of a container has a known composition', () => {
    const text = formatLs(inventorySnapshot([archiveRecord(cart, { timestamp: '2026-01-01T10:00:00Z', size: 100 })]), '/checkpoints', 'wide');
    expect(text.split('\n')[1]?.split(/\s{2,}/).slice(6, 11)).toEqual(['-', '-', '-', '-', '0']);
  });
});

describe('inspect output', () => {
  let dir: string;
  let remove: () => Promise<void>;
  beforeAll(async () => {
    ({ dir, remove } = await makeTempDir());
  });
  afterAll(() => remove());
  const base: SampleArchiveOptions = { namespace: 'shop-prod', pod: 'cart-0', container: 'cart-api', timestamp: '2026-01-01T10:00:00Z', runtime: 'cri-o', payloadBytes: 100 * 1024 };

  it('shows the parts with their share of the file, and says a plain archive is restorable', async () => {
    const fileName = await writeSampleArchive(dir, base);
    const { ok, output } = await runInspect({ path: join(dir, fileName), json: false });
    expect(ok).toBe(true);
    expect(output).toContain('compression: none\nrestorable: yes\ncontents:\n');
    expect(output).toMatch(/\n {2}memory +100 KiB +102400 +\d+\.\d %\n/);
    expect(output).toMatch(/\n {2}other +[\d.]+ KiB +\d+ +\d+\.\d %\n/);
  });

  it('names the missing entry and the compression', async () => {
    const fileName = await writeSampleArchive(dir, { ...base, pod: 'cart-1', compression: 'gzip', omitEntries: ['checkpoint/inventory.img'] });
    const { ok, output } = await runInspect({ path: join(dir, fileName), json: false });
    expect(ok).toBe(true);
    expect(output).toContain('restorable: NO: checkpoint/inventory.img missing from the archive');
    expect(output).toMatch(/compression: gzip \([\d.]+ KiB decompressed; parts below are decompressed sizes/);
    const json = await runInspect({ path: join(dir, fileName), json: true });
    expect(JSON.parse(json.output)).toMatchObject({ contents: { compression: 'gzip', missing: ['checkpoint/inventory.img'], memoryBytes: 100 * 1024 } });
  });
});
