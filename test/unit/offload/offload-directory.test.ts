import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { appendFile, lstat, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { createDirectoryTarget } from '../../../src/offload/directory-target.js';
import { createOffloader, OFFLOAD_FAILURES_BEFORE_FALLBACK, type OffloadResult } from '../../../src/offload/offloader.js';
import { parseOffloadRecord } from '../../../src/offload/record.js';
import { createRetentionExecutor } from '../../../src/retention/execute.js';
import type { DeletionReason, PlannedDeletion, RetentionPlan } from '../../../src/retention/types.js';
import { canMountTmpfs } from '../../support/binaries.js';
import { waitUntil } from '../../support/wait.js';

/**
 * Offload before delete on real directories: a second tmpfs (another filesystem, as a PVC or a second
 * disk is), and a full one. The executor unlinks only what the offloader copied and verified.
 */
const mountable = canMountTmpfs();
const describeMounted = mountable ? describe : describe.skip;

const IDENTITY = { namespace: 'shop', pod: 'web-0', container: 'api' } as const;
const NODE = 'node-a';
const logger = pino({ level: 'silent' });

let root: string;
let dir: string;
let dirIdentity: { dev: number; ino: number };
let offloadRoot: string;
let fullRoot: string;
let counter = 0;

beforeAll(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'offload-directory-'));
  offloadRoot = path.join(root, 'offload');
  fullRoot = path.join(root, 'full');
  await mkdir(offloadRoot);
  await mkdir(fullRoot);
  if (mountable) {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64m', 'tmpfs', offloadRoot]);
    // Smaller than the archive the ENOSPC case copies.
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', fullRoot]);
  }
});
afterAll(async () => {
  if (mountable) {
    execFileSync('umount', [offloadRoot]);
    execFileSync('umount', [fullRoot]);
  }
  await rm(root, { recursive: true, force: true });
});
beforeEach(async () => {
  dir = path.join(root, `checkpoints-${(counter += 1)}`);
  await mkdir(dir);
  const stats = await stat(dir);
  dirIdentity = { dev: stats.dev, ino: stats.ino };
});

const nameOf = (minute: number): string => `checkpoint-web-0_shop-api-2024-01-28T00:${String(minute).padStart(2, '0')}:45Z.tar`;

async function archive(minute: number, bytes: number): Promise<{ fileName: string; sha256: string }> {
  const content = Buffer.alloc(bytes);
  for (let i = 0; i < bytes; i += 4096) content.writeUInt32BE((i * 2654435761) >>> 0, i);
  const fileName = nameOf(minute);
  await writeFile(path.join(dir, fileName), content);
  return { fileName, sha256: createHash('sha256').update(content).digest('hex') };
}

async function planned(fileName: string, reason: DeletionReason = 'count'): Promise<PlannedDeletion> {
  const stats = await lstat(path.join(dir, fileName));
  return {
    fileName,
    fingerprint: { dev: stats.dev, ino: stats.ino, size: stats.size, mtimeMs: stats.mtimeMs, nlink: stats.nlink },
    identity: IDENTITY,
    reason,
    limitValue: 1,
    scope: { level: 'container', ...IDENTITY },
    policySource: 'default',
    detail: 'container shop/web-0/api has 3 archives, limit 1 (default)',
  };
}

const planOf = (deletions: PlannedDeletion[]): RetentionPlan => ({ deletions, unsatisfiable: [], effectiveLimits: [], directoryIdentity: dirIdentity });

function setUp(options: { target: string; dryRun?: boolean; fallback?: boolean; bandwidth?: number; clock?: { ms: number } }) {
  const results: OffloadResult[] = [];
  const failing: number[] = [];
  const deleted: PlannedDeletion[] = [];
  const now = options.clock ? () => options.clock!.ms : () => Date.now();
  const offloader = createOffloader({
    directory: dir,
    node: NODE,
    target: createDirectoryTarget(options.target),
    concurrency: 2,
    bandwidthBytesPerSecond: options.bandwidth ?? 0,
    diskPressureDeletesUnoffloaded: options.fallback ?? false,
    observer: { onResult: (result) => results.push(result), onQueue: () => undefined, onFailing: (count) => failing.push(count) },
    logger,
    now,
  });
  const executor = createRetentionExecutor({
    directory: dir,
    dryRun: options.dryRun ?? false,
    logger,
    offloader,
    observer: { onDeleted: (deletion) => deleted.push(deletion), onError: () => undefined },
  });
  return { offloader, executor, results, failing, deleted };
}

const keyPath = (target: string, fileName: string): string => path.join(target, NODE, IDENTITY.namespace, IDENTITY.pod, IDENTITY.container, fileName);

/** Every name under a directory, recursively, relative to it: a partial copy left behind would show here. */
async function namesUnder(target: string): Promise<string[]> {
  return (await readdir(target, { recursive: true })).map(String).sort();
}

describeMounted('offload to a directory on another filesystem', () => {
  it('copies, verifies, records, and only then the executor unlinks; the Event detail says where it went', async () => {
    const a = await archive(10, 3 * 1024 * 1024 + 123);
    const b = await archive(20, 4096);
    const { executor, results, deleted } = setUp({ target: offloadRoot });
    const result = await executor.execute(planOf([await planned(a.fileName), await planned(b.fileName)]));
    expect(result.deleted).toBe(2);
    expect(await readdir(dir)).toEqual([]);
    for (const { fileName, sha256 } of [a, b]) {
      const copy = await readFile(keyPath(offloadRoot, fileName));
      expect(createHash('sha256').update(copy).digest('hex')).toBe(sha256);
      const record = parseOffloadRecord(await readFile(`${keyPath(offloadRoot, fileName)}.offload.json`, 'utf8'));
      expect(record).toMatchObject({ version: 1, node: NODE, fileName, identity: IDENTITY, sha256, size: copy.length });
    }
    expect(results).toEqual(['offloaded', 'offloaded']);
    expect(deleted.map((d) => d.detail)).toEqual([
      `container shop/web-0/api has 3 archives, limit 1 (default); offloaded to ${keyPath(offloadRoot, a.fileName)}`,
      `container shop/web-0/api has 3 archives, limit 1 (default); offloaded to ${keyPath(offloadRoot, b.fileName)}`,
    ]);
    expect(result.outcomes.map((o) => (o.outcome === 'deleted' ? o.offloadedTo : undefined))).toEqual([keyPath(offloadRoot, a.fileName), keyPath(offloadRoot, b.fileName)]);
    await rm(path.join(offloadRoot, NODE), { recursive: true });
  });

  it('a full target (ENOSPC) keeps the archive, leaves no partial copy, counts the failure and backs off', async () => {
    const a = await archive(10, 2 * 1024 * 1024);
    const clock = { ms: 1_000_000 };
    const { executor, results } = setUp({ target: fullRoot, clock });
    const first = await executor.execute(planOf([await planned(a.fileName)]));
    expect(first.deleted).toBe(0);
    expect(first.outcomes[0]).toMatchObject({ outcome: 'skipped', reason: expect.stringContaining('ENOSPC') });
    expect(await readdir(dir)).toEqual([a.fileName]);
    expect((await namesUnder(fullRoot)).filter((name) => name.includes('.tar'))).toEqual([]);
    // Retried only once the backoff has passed: the second run does not copy.
    const second = await executor.execute(planOf([await planned(a.fileName)]));
    expect(second.outcomes[0]).toMatchObject({ outcome: 'skipped', reason: expect.stringContaining('next attempt in 30 s') });
    expect(results).toEqual(['failed', 'backoff']);
    clock.ms += 30_000;
    await executor.execute(planOf([await planned(a.fileName)]));
    expect(results).toEqual(['failed', 'backoff', 'failed']);
    expect(await readdir(dir)).toEqual([a.fileName]);
  });

  it('disk pressure keeps an archive whose offload keeps failing, unless --offload-disk-pressure-delete says otherwise', async () => {
    for (const fallback of [false, true]) {
      const a = await archive(10 + (fallback ? 1 : 0), 2 * 1024 * 1024);
      const clock = { ms: 1_000_000 };
      const { executor, failing } = setUp({ target: fullRoot, clock, fallback });
      for (let attempt = 1; attempt < OFFLOAD_FAILURES_BEFORE_FALLBACK; attempt += 1) {
        const result = await executor.execute(planOf([await planned(a.fileName, 'disk_pressure')]));
        expect(result.deleted).toBe(0);
        clock.ms += 3_600_000;
      }
      const last = await executor.execute(planOf([await planned(a.fileName, 'disk_pressure')]));
      expect(failing.at(-1)).toBe(1);
      expect(last.deleted).toBe(fallback ? 1 : 0);
      expect(await readdir(dir)).toEqual(fallback ? [] : [a.fileName]);
      // A count limit never deletes without a copy, whatever the option.
      if (!fallback) {
        clock.ms += 3_600_000;
        expect((await executor.execute(planOf([await planned(a.fileName, 'count')]))).deleted).toBe(0);
      }
      await rm(path.join(dir, a.fileName), { force: true });
    }
  });

  it('an archive that changes while it is copied is kept, and nothing is left under its key', async () => {
    const a = await archive(10, 4 * 1024 * 1024);
    // 1 MiB/s: the copy takes about four seconds; the append lands once its partial file exists, in the middle of it.
    const { executor, results } = setUp({ target: offloadRoot, bandwidth: 1024 * 1024 });
    const deletion = await planned(a.fileName);
    const running = executor.execute(planOf([deletion]));
    await waitUntil(async () => (await namesUnder(offloadRoot)).some((name) => name.includes(`${a.fileName}.partial-`)), 'the copy has begun');
    await appendFile(path.join(dir, a.fileName), 'more');
    const result = await running;
    expect(result.outcomes[0]).toMatchObject({ outcome: 'skipped', reason: expect.stringContaining('changed') });
    expect(results).toEqual(['failed']);
    expect(await readdir(dir)).toEqual([a.fileName]);
    expect((await namesUnder(offloadRoot)).filter((name) => name.includes(a.fileName))).toEqual([]);
  });

  it('a pin written after planning: nothing is copied and nothing is deleted', async () => {
    const a = await archive(10, 4096);
    const deletion = await planned(a.fileName);
    await writeFile(path.join(dir, `${a.fileName}.keep`), '');
    const { executor, results } = setUp({ target: offloadRoot });
    const result = await executor.execute(planOf([deletion]));
    expect(result.outcomes[0]).toMatchObject({ outcome: 'skipped', reason: expect.stringContaining('pinned') });
    expect(results).toEqual([]);
    expect((await namesUnder(offloadRoot)).filter((name) => name.includes(a.fileName))).toEqual([]);
  });

  it('a dry run plans the offload and copies nothing', async () => {
    const a = await archive(10, 4096);
    const { executor, results } = setUp({ target: offloadRoot, dryRun: true });
    const result = await executor.execute(planOf([await planned(a.fileName)]));
    expect(result.outcomes[0]).toMatchObject({ outcome: 'would_delete', offloadTo: keyPath(offloadRoot, a.fileName) });
    expect(results).toEqual([]);
    expect(await readdir(dir)).toEqual([a.fileName]);
    expect((await namesUnder(offloadRoot)).filter((name) => name.includes(a.fileName))).toEqual([]);
  });
});
