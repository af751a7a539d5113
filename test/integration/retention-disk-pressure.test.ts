import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { lstat, mkdtemp, readdir, rmdir, stat, statfs, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import type { ArchiveRecord } from '../../src/inventory/types.js';
import { createRetentionExecutor } from '../../src/retention/execute.js';
import { mergePolicies } from '../../src/retention/merge-policies.js';
import { planRetention } from '../../src/retention/plan.js';
import { parsePolicyYaml } from '../../src/retention/policy-document.js';
import type { DiskStats } from '../../src/retention/types.js';
import { canMountTmpfs } from '../support/binaries.js';

const mountable = canMountTmpfs();
const KiB = 1024;
const T0 = Date.UTC(2024, 0, 28);

/** statfs as df reads it. */
async function diskStats(dir: string): Promise<DiskStats> {
  const s = await statfs(dir);
  return { sizeBytes: s.blocks * s.bsize, freeBytes: s.bfree * s.bsize, availBytes: s.bavail * s.bsize };
}

const usedPercent = (d: DiskStats): number => ((d.sizeBytes - d.freeBytes) / (d.sizeBytes - d.freeBytes + d.availBytes)) * 100;

/** Records built from the real files' lstat, the way the inventory would. */
async function records(dir: string): Promise<ArchiveRecord[]> {
  const names = (await readdir(dir)).filter((n) => n.endsWith('.tar'));
  return Promise.all(
    names.map(async (fileName) => {
      const match = /^checkpoint-(.+)_(shop)-(.+)-(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)\.tar$/.exec(fileName);
      if (!match) throw new Error(`unexpected name ${fileName}`);
      const [, pod = '', namespace = '', container = '', stamp = ''] = match;
      const stats = await lstat(path.join(dir, fileName));
      return {
        fileName,
        name: { fileName, pod, namespaceContainer: `${namespace}-${container}`, timestampText: stamp, timestampMs: Date.parse(stamp) },
        fingerprint: { dev: stats.dev, ino: stats.ino, size: stats.size, mtimeMs: stats.mtimeMs, nlink: stats.nlink },
        identity: { namespace, pod, container },
        identitySources: ['cri-o'],
        unidentifiedReason: undefined,
        pinned: false,
      } satisfies ArchiveRecord;
    }),
  );
}

(mountable ? describe : describe.skip)('disk pressure on a real 8 MiB tmpfs', () => {
  let dir = '';
  let mounted = false;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'retention-tmpfs-'));
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=8m', 'tmpfs', dir]);
    mounted = true;
  });

  afterAll(async () => {
    if (mounted) execFileSync('umount', [dir]);
    if (dir) await rmdir(dir);
  });

  it('plans and deletes the oldest archives until usage is below the low mark, keeping the newest of every container', async () => {
    // cache's only archive is the oldest of all: plain oldest-first would take it, keepNewestPerContainer must not.
    // 11 archives × 650 KiB ≈ 7 MiB of 8 MiB: about 87 % used.
    const writes: [string, number][] = [['cache', 0]];
    for (let i = 1; i <= 5; i += 1) writes.push(['api', 2 * i], ['worker', 2 * i + 1]);
    for (const [container, minute] of writes) {
      const stamp = new Date(T0 + minute * 60_000).toISOString().replace('.000Z', 'Z');
      await writeFile(path.join(dir, `checkpoint-web-0_shop-${container}-${stamp}.tar`), Buffer.alloc(650 * KiB, minute + 1));
    }
    const before = await diskStats(dir);
    expect(usedPercent(before)).toBeGreaterThan(85);

    const parsed = parsePolicyYaml(
      'apiVersion: criu.org/v1\nkind: CheckpointRestoreOperator\nspec:\n  diskPressure: { highThresholdPercent: 85, lowThresholdPercent: 60, keepNewestPerContainer: 1 }\n',
      'file policy.yaml',
    );
    if (!parsed.ok) throw new Error(parsed.reason);
    const archives = await records(dir);
    const dirStats = await stat(dir);
    const plan = planRetention({
      snapshot: { directory: dir, directoryPresent: true, directoryIdentity: { dev: dirStats.dev, ino: dirStats.ino }, archives, unrecognized: [], pendingArchives: 0, initialScanComplete: true, lastScanTimestampMs: T0, lastScanDurationSeconds: 0 },
      policy: mergePolicies(parsed.value),
      owners: () => ({ state: 'alive' }),
      disk: before,
      nowMs: T0 + 3_600_000,
    });
    expect(plan.deletions.length).toBeGreaterThan(0);
    expect(plan.deletions.every((d) => d.reason === 'disk_pressure')).toBe(true);

    const deleted: string[] = [];
    const executor = createRetentionExecutor({
      directory: dir,
      dryRun: false,
      logger: pino({ level: 'silent' }),
      observer: { onDeleted: (d) => deleted.push(d.fileName), onError: (op, d, error) => deleted.push(`error ${op} ${d.fileName} ${String(error)}`) },
    });
    const result = await executor.execute(plan);
    expect(result.deleted).toBe(plan.deletions.length);

    const after = await diskStats(dir);
    expect(usedPercent(after)).toBeLessThan(60);
    // Below 60 % of 8 MiB means at most 7 archives remain: 4 go, the oldest ones that are not a container's newest.
    const oldestFirst = [...archives].sort((a, b) => a.name.timestampMs - b.name.timestampMs).map((a) => a.fileName);
    const newest = ['cache', 'api', 'worker'].map((c) => oldestFirst.filter((n) => n.includes(`_shop-${c}-`)).at(-1));
    expect(deleted).toEqual(oldestFirst.filter((n) => !newest.includes(n)).slice(0, 4));
    expect((await readdir(dir)).sort()).toEqual(oldestFirst.filter((n) => !deleted.includes(n)).sort());
    expect(await readdir(dir)).toEqual(expect.arrayContaining(newest));
  });
});
