import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { link, mkdir, mkdtemp, readdir, rmdir, statfs, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { writeSampleArchive } from '../../src/demo/sample-archives.js';
import { canMountTmpfs } from '../support/binaries.js';
import { sampleValue } from '../support/metrics-text.js';
import { serveBinary, type ServedBinary } from '../support/serve-binary.js';
import { waitUntil } from '../support/wait.js';

/**
 * Issue 16 on the built binary and a real 8 MiB tmpfs: archives also hard-linked into a backup (as
 * `cp -al` or `rsync --link-dest` leave them) free nothing when unlinked, so disk pressure takes only
 * the others, and never digs below keepNewestPerContainer because the linked ones could not go.
 */
const mountable = canMountTmpfs();
const KiB = 1024;
const T0 = Date.UTC(2026, 0, 28);
const NAMESPACE = 'shop';
const POD = 'web-0';

/** Used percentage as df computes it, from the same statfs the exporter reads. */
async function usedPercent(dir: string): Promise<number> {
  const s = await statfs(dir);
  const used = (s.blocks - s.bfree) * s.bsize;
  return (used / (used + s.bavail * s.bsize)) * 100;
}

const policy = (high: number, low: number): string =>
  [
    'apiVersion: criu.org/v1',
    'kind: CheckpointRestoreOperator',
    'metadata:',
    '  name: node-policy',
    'spec:',
    '  globalPolicy:',
    '    maxCheckpointsPerContainer: 0',
    '  diskPressure:',
    `    highThresholdPercent: ${high}`,
    `    lowThresholdPercent: ${low}`,
    '    keepNewestPerContainer: 1',
    '',
  ].join('\n');

const fullRuns = async (served: ServedBinary): Promise<number> => sampleValue(await served.metrics(), 'checkpoint_retention_runs_total', { kind: 'full' }) ?? 0;
const pressureDeletions = async (served: ServedBinary): Promise<number> =>
  sampleValue(await served.metrics(), 'checkpoint_retention_deletions_total', { namespace: NAMESPACE, reason: 'disk_pressure' }) ?? 0;

(mountable ? describe : describe.skip)('disk pressure with hard-linked archives on a real 8 MiB tmpfs, on the built binary', () => {
  let mountPoint = '';
  let mounted = false;
  let served: ServedBinary | undefined;

  beforeAll(async () => {
    mountPoint = await mkdtemp(path.join(tmpdir(), 'pressure-links-'));
  });
  afterEach(async () => {
    await served?.stop();
    served = undefined;
    if (mounted) execFileSync('umount', [mountPoint]);
    mounted = false;
  });
  afterAll(async () => {
    if (mountPoint) await rmdir(mountPoint);
  });

  /**
   * 11 archives of about 650 KiB (about 87 % of 8 MiB): cache's only one is the oldest of all, api and
   * worker alternate after it. `linked` names the archives (container and index, oldest first) also
   * linked into backup/ on the same filesystem. Returns the archive names per container, oldest first.
   */
  async function fill(linked: readonly string[], perContainer = 5): Promise<{ dir: string; byContainer: Record<string, string[]> }> {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=8m', 'tmpfs', mountPoint]);
    mounted = true;
    const dir = path.join(mountPoint, 'checkpoints');
    const backup = path.join(mountPoint, 'backup');
    await mkdir(dir);
    await mkdir(backup);
    const byContainer: Record<string, string[]> = { cache: [], api: [], worker: [] };
    const writes: [string, number][] = [['cache', 0]];
    for (let i = 1; i <= perContainer; i += 1) writes.push(['api', 2 * i], ['worker', 2 * i + 1]);
    for (const [container, minute] of writes) {
      const fileName = await writeSampleArchive(dir, { namespace: NAMESPACE, pod: POD, container, timestamp: new Date(T0 + minute * 60_000), runtime: 'cri-o', payloadBytes: 640 * KiB });
      byContainer[container]!.push(fileName);
    }
    for (const which of linked) {
      const [container, index] = which.split('#') as [string, string];
      const fileName = byContainer[container]![Number(index)]!;
      await link(path.join(dir, fileName), path.join(backup, fileName));
    }
    return { dir, byContainer };
  }

  async function serve(dir: string, high: number, low: number, resyncInterval = '1s'): Promise<ServedBinary> {
    const config = path.join(mountPoint, 'policy.yaml');
    await writeFile(config, policy(high, low));
    // By default a resync every second: a full retention run (and disk-pressure check) after each.
    served = await serveBinary(['--checkpoint-dir', dir, '--config', config, '--settle-time', '100ms', '--resync-interval', resyncInterval]);
    await waitUntil(async () => (await fetch(`${served!.url}readyz`)).status === 200, 'ready', 30_000);
    return served;
  }

  it('takes only archives not linked elsewhere, oldest first, until below the low mark', async () => {
    const { dir, byContainer } = await fill(['api#0', 'api#1', 'worker#0']);
    const [api, worker, cache] = [byContainer['api']!, byContainer['worker']!, byContainer['cache']!];
    expect(await usedPercent(dir)).toBeGreaterThan(85);
    const exporter = await serve(dir, 85, 60);

    await waitUntil(async () => (await usedPercent(dir)) < 60, 'usage below the low mark', 30_000);
    // Nothing more once below the low mark: three more full runs delete nothing.
    const deleted = await pressureDeletions(exporter);
    const runs = await fullRuns(exporter);
    await waitUntil(async () => (await fullRuns(exporter)) >= runs + 3, 'three more full runs', 30_000);
    expect(await pressureDeletions(exporter)).toBe(deleted);

    const left = new Set(await readdir(dir));
    // The linked ones stay, and so does the newest of every container.
    for (const fileName of [api[0]!, api[1]!, worker[0]!, cache[0]!, api[4]!, worker[4]!]) expect(left.has(fileName)).toBe(true);
    // The oldest of the others went first: worker#1, api#2, worker#2, api#3, worker#3 in time order.
    const takeable = [worker[1]!, api[2]!, worker[2]!, api[3]!, worker[3]!];
    const gone = takeable.filter((fileName) => !left.has(fileName));
    expect(gone.length).toBe(deleted);
    expect(gone).toEqual(takeable.slice(0, deleted));

    const text = await exporter.metrics();
    expect(sampleValue(text, 'checkpoint_hard_linked_archives')).toBe(3);
    expect(sampleValue(text, 'checkpoint_hard_linked_archive_bytes')).toBeGreaterThan(3 * 640 * KiB);
    expect(sampleValue(text, 'checkpoint_retention_errors_total', { operation: 'verify' })).toBe(0);
    expect(exporter.log()).toContain('not taken: 3 hard-linked archives');
  });

  it('stops at keepNewestPerContainer when the linked archives keep the disk above the low mark, and later runs take nothing more', async () => {
    // Everything but the newest of each container and one worker archive is also in the backup.
    const { dir, byContainer } = await fill(['api#0', 'api#1', 'api#2', 'api#3', 'worker#0', 'worker#1', 'worker#2']);
    const [api, worker, cache] = [byContainer['api']!, byContainer['worker']!, byContainer['cache']!];
    // High mark 70 %: still above it once the one archive that frees space is gone, so every run plans.
    expect(await usedPercent(dir)).toBeGreaterThan(85);
    const exporter = await serve(dir, 70, 20);

    await waitUntil(async () => !existsSync(path.join(dir, worker[3]!)), 'the one archive whose deletion frees space goes', 30_000);
    expect(await usedPercent(dir)).toBeGreaterThan(70);
    const runs = await fullRuns(exporter);
    await waitUntil(async () => (await fullRuns(exporter)) >= runs + 3, 'three more full runs above the high mark', 30_000);
    expect(await usedPercent(dir)).toBeGreaterThan(70);
    expect(await pressureDeletions(exporter)).toBe(1);
    expect((await readdir(dir)).sort()).toEqual([...cache, ...api, ...worker.filter((name) => name !== worker[3])].sort());
    const text = await exporter.metrics();
    expect(sampleValue(text, 'checkpoint_hard_linked_archives')).toBe(7);
    expect(sampleValue(text, 'checkpoint_retention_errors_total', { operation: 'verify' })).toBe(0);
    expect(exporter.log()).toContain('not taken: 7 hard-linked archives');
  });

  it('refuses a disk-pressure unlink of an archive linked after the inventory last looked at it, and looks again', async () => {
    // 9 archives, about 72 % used: no pressure at start, everything settles with one link each.
    const { dir, byContainer } = await fill([], 4);
    const [api, worker] = [byContainer['api']!, byContainer['worker']!];
    expect(await usedPercent(dir)).toBeLessThan(85);
    // No resync while the test runs: only the executor's own check can notice the links.
    const exporter = await serve(dir, 85, 70, '1h');
    await waitUntil(async () => sampleValue(await exporter.metrics(), 'checkpoint_archives', { namespace: NAMESPACE, pod: POD, container: 'worker' }) === 4, 'settled');

    // A backup links the two oldest api archives from another directory: no event reaches the checkpoint directory.
    for (const fileName of api.slice(0, 2)) await link(path.join(dir, fileName), path.join(mountPoint, 'backup', fileName));
    await writeFile(path.join(mountPoint, 'filler'), Buffer.alloc(1300 * KiB, 1));
    // A new checkpoint is the change that makes retention plan, now above the high mark.
    await writeSampleArchive(dir, { namespace: NAMESPACE, pod: POD, container: 'worker', timestamp: new Date(T0 + 20 * 60_000), runtime: 'cri-o', payloadBytes: 640 * KiB });
    expect(await usedPercent(dir)).toBeGreaterThan(85);

    await waitUntil(async () => (await usedPercent(dir)) < 85, 'usage back below the high mark', 30_000);
    await waitUntil(async () => sampleValue(await exporter.metrics(), 'checkpoint_hard_linked_archives') === 2, 'the links are seen once the planned files are looked at again');
    const left = new Set(await readdir(dir));
    for (const fileName of api.slice(0, 2)) expect(left.has(fileName)).toBe(true);
    // The plan made on the old link counts named them; the executor refused each, and only unlinked ones went.
    const text = await exporter.metrics();
    expect(sampleValue(text, 'checkpoint_retention_errors_total', { operation: 'verify' })).toBe(2);
    expect(exporter.log()).toContain('hard-linked since planning (2 links, 1 planned): deleting it would free no space');
    expect(await pressureDeletions(exporter)).toBeGreaterThan(0);
    for (const fileName of worker.slice(0, await pressureDeletions(exporter))) expect(left.has(fileName)).toBe(false);
  });
});
