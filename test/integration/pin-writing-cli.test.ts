import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pinFileNameOf, pinWritingFileNameOf } from '../../src/archive/archive-name.js';
import { writeSampleArchive, type SampleArchiveOptions } from '../../src/demo/sample-archives.js';
import { sampleValue } from '../support/metrics-text.js';
import { serveBinary, type ServedBinary } from '../support/serve-binary.js';
import { waitUntil } from '../support/wait.js';

/**
 * Issue 16, on the built binary: the checkpoint-restore-operator writes a pin to `<archive>.keep.tmp`
 * and renames it to `<archive>.keep`. The archive is pinned from the moment the first name exists, and
 * stays pinned across the rename; retention takes another archive instead.
 */
const OWNER = { namespace: 'shop-prod', pod: 'cart-0', container: 'cart-api' } as const;
const HOUR = 3_600_000;
const POLICY = 'apiVersion: criu.org/v1\nkind: CheckpointRestoreOperator\nmetadata:\n  name: node-policy\nspec:\n  globalPolicy:\n    maxCheckpointsPerContainer: 2\n';
/** What the operator writes: JSON, here caught half-written. */
const HALF_WRITTEN_PIN = '{"reason":"incident 4711","pinnedBy":';

let root: string;
let counter = 0;
const running: ServedBinary[] = [];

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'pin-writing-cli-'));
  await chmod(root, 0o755);
});
afterEach(async () => {
  for (const served of running.splice(0)) await served.stop();
});
afterAll(() => rm(root, { recursive: true, force: true }));

async function directory(): Promise<string> {
  const dir = join(root, `archives-${(counter += 1)}`);
  await mkdir(dir);
  return dir;
}

const at = (ms: number): SampleArchiveOptions => ({ ...OWNER, timestamp: new Date(ms), runtime: 'containerd', payloadBytes: 512 });

async function serve(dir: string): Promise<ServedBinary> {
  const config = join(root, `policy-${(counter += 1)}.yaml`);
  await writeFile(config, POLICY);
  const served = await serveBinary(['--checkpoint-dir', dir, '--config', config, '--settle-time', '200ms']);
  running.push(served);
  await waitUntil(async () => (await fetch(`${served.url}readyz`)).status === 200, 'ready', 30_000);
  await waitUntil(async () => (sampleValue(await served.metrics(), 'checkpoint_retention_last_run_timestamp_seconds') ?? 0) > 0, 'first retention run', 30_000);
  return served;
}

const deletedTotal = async (served: ServedBinary): Promise<number> => sampleValue(await served.metrics(), 'checkpoint_retention_deletions_total', { namespace: OWNER.namespace, reason: 'count' }) ?? 0;

describe('a pin being written pins, on the built binary', () => {
  it('keeps the oldest archive of an over-limit container when it has only <archive>.keep.tmp, and deletes the next oldest', async () => {
    const dir = await directory();
    const now = Date.now();
    const [oldest, middle, newest] = [await writeSampleArchive(dir, at(now - 3 * HOUR)), await writeSampleArchive(dir, at(now - 2 * HOUR)), await writeSampleArchive(dir, at(now - HOUR))];
    await writeFile(join(dir, pinWritingFileNameOf(oldest!)), HALF_WRITTEN_PIN);

    const served = await serve(dir);
    await waitUntil(async () => !existsSync(join(dir, middle!)), 'the count limit takes an archive');
    expect((await readdir(dir)).sort()).toEqual([oldest, newest, pinWritingFileNameOf(oldest!)].sort());
    const text = await served.metrics();
    expect(sampleValue(text, 'checkpoint_archives', OWNER)).toBe(2);
    expect(sampleValue(text, 'checkpoint_archives_pinned', OWNER)).toBe(1);
    // A pin being written is a pin, not a stray file, and nothing was planned and then refused.
    expect(sampleValue(text, 'checkpoint_unrecognized_files')).toBe(0);
    expect(sampleValue(text, 'checkpoint_retention_errors_total', { operation: 'verify' })).toBe(0);
  });

  it('keeps the archive pinned throughout the rename of .keep.tmp to .keep, while new archives push the count limit', async () => {
    const dir = await directory();
    const now = Date.now();
    const pinned = await writeSampleArchive(dir, at(now - 10 * HOUR));
    await writeSampleArchive(dir, at(now - 9 * HOUR));
    const writing = join(dir, pinWritingFileNameOf(pinned));
    const finished = join(dir, pinFileNameOf(pinned));
    await writeFile(writing, HALF_WRITTEN_PIN);
    const served = await serve(dir);
    expect(sampleValue(await served.metrics(), 'checkpoint_archives_pinned', OWNER)).toBe(1);

    // Each round: a new archive arrives (three archives, limit 2, one pinned: an unpinned one must go)
    // while the pin is renamed, as the operator finishes writing it (and, to repeat the race, back).
    const rounds = 12;
    for (let round = 0; round < rounds; round += 1) {
      const before = await deletedTotal(served);
      await writeSampleArchive(dir, at(now - 8 * HOUR + round * 60_000));
      if (round % 2 === 0) await rename(writing, finished);
      else await rename(finished, writing);
      await waitUntil(async () => (await deletedTotal(served)) === before + 1, `round ${round}: the count limit takes an unpinned archive`);
      expect(existsSync(join(dir, pinned))).toBe(true);
    }

    const text = await served.metrics();
    expect(existsSync(join(dir, pinned))).toBe(true);
    expect(sampleValue(text, 'checkpoint_archives', OWNER)).toBe(2);
    expect(sampleValue(text, 'checkpoint_archives_pinned', OWNER)).toBe(1);
    expect(await deletedTotal(served)).toBe(rounds);
    expect(sampleValue(text, 'checkpoint_retention_errors_total', { operation: 'verify' })).toBe(0);
    expect(served.log()).not.toContain('pinned since planning');
  });
});
