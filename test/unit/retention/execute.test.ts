import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { appendFile, link, lstat, mkdir, mkdtemp, readdir, rename, rm, stat, symlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { createRetentionExecutor } from '../../../src/retention/execute.js';
import type { PlannedDeletion, RetentionObserver, RetentionPlan } from '../../../src/retention/types.js';

let root: string;
let dir: string;
/** The checkpoint directory as the inventory saw it when the plan was made. */
let dirIdentity: { dev: number; ino: number };

beforeEach(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'retention-execute-'));
  dir = path.join(root, 'checkpoints');
  await mkdir(dir);
  const stats = await stat(dir);
  dirIdentity = { dev: stats.dev, ino: stats.ino };
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

const NAME_A = 'checkpoint-web-0_shop-api-2024-01-28T00:10:45Z.tar';
const NAME_B = 'checkpoint-web-0_shop-api-2024-01-28T00:20:45Z.tar';
const NAME_C = 'checkpoint-web-0_shop-api-2024-01-28T00:30:45Z.tar';

async function archiveFile(name: string, bytes = 100): Promise<void> {
  await writeFile(path.join(dir, name), Buffer.alloc(bytes, 7));
}

/** A deletion planned from what lstat says now, as the planner would from a snapshot. */
async function planned(fileName: string, at = path.join(dir, fileName)): Promise<PlannedDeletion> {
  const stats = await lstat(at);
  return {
    fileName,
    fingerprint: { dev: stats.dev, ino: stats.ino, size: stats.size, mtimeMs: stats.mtimeMs },
    identity: { namespace: 'shop', pod: 'web-0', container: 'api' },
    reason: 'count',
    limitValue: 1,
    scope: { level: 'container', namespace: 'shop', pod: 'web-0', container: 'api' },
    policySource: 'default',
    detail: 'container shop/web-0/api has 3 archives, limit 1 (default)',
  };
}

const planOf = (deletions: PlannedDeletion[]): RetentionPlan => ({ deletions, unsatisfiable: [], effectiveLimits: [], directoryIdentity: dirIdentity });

function recorder() {
  const events: string[] = [];
  const logs: Record<string, unknown>[] = [];
  const observer: RetentionObserver = {
    onDeleted: (d, bytes) => events.push(`deleted ${d.fileName} ${bytes}`),
    onError: (operation, d) => events.push(`${operation} ${d.fileName}`),
  };
  const logger = pino({ level: 'info' }, { write: (line: string) => logs.push(JSON.parse(line) as Record<string, unknown>) });
  return { events, logs, observer, logger };
}

const remaining = async (): Promise<string[]> => (await readdir(dir)).sort();

describe('createRetentionExecutor', () => {
  it('deletes exactly the planned files, logging reason and detail, and reports bytes', async () => {
    await Promise.all([archiveFile(NAME_A, 100), archiveFile(NAME_B, 250), archiveFile(NAME_C, 10)]);
    const { events, logs, observer, logger } = recorder();
    const executor = createRetentionExecutor({ directory: dir, dryRun: false, logger, observer });
    const result = await executor.execute(planOf([await planned(NAME_A), await planned(NAME_B)]));
    expect(await remaining()).toEqual([NAME_C]);
    expect(events).toEqual([`deleted ${NAME_A} 100`, `deleted ${NAME_B} 250`]);
    expect(result).toMatchObject({ dryRun: false, deleted: 2, wouldDelete: 0, skipped: 0, failed: 0, bytes: 350 });
    expect(logs.filter((l) => l['msg'] === 'retention: deleted archive')).toEqual([
      expect.objectContaining({ file: NAME_A, reason: 'count', detail: 'container shop/web-0/api has 3 archives, limit 1 (default)', bytes: 100 }),
      expect.objectContaining({ file: NAME_B, reason: 'count', bytes: 250 }),
    ]);
  });

  it('in a dry run reports what it would delete and deletes nothing', async () => {
    await Promise.all([archiveFile(NAME_A, 100), archiveFile(NAME_B, 50)]);
    const { events, logs, observer, logger } = recorder();
    const executor = createRetentionExecutor({ directory: dir, dryRun: true, logger, observer });
    const result = await executor.execute(planOf([await planned(NAME_A), await planned(NAME_B)]));
    expect(await remaining()).toEqual([NAME_A, NAME_B]);
    expect(events).toEqual([]);
    expect(result).toMatchObject({ dryRun: true, deleted: 0, wouldDelete: 2, bytes: 150 });
    expect(logs.filter((l) => l['msg'] === 'retention: would delete archive (dry run)')).toHaveLength(2);
  });

  type Tamper = (deletion: PlannedDeletion) => Promise<PlannedDeletion>;
  const refusals: [string, Tamper, RegExp][] = [
    [
      'a file grown since planning',
      async (d) => {
        await appendFile(path.join(dir, d.fileName), 'more');
        return d;
      },
      /changed since planning \(size, mtimeMs\)|changed since planning \(size\)/,
    ],
    [
      'a file touched since planning',
      async (d) => {
        await utimes(path.join(dir, d.fileName), new Date(0), new Date(5_000));
        return d;
      },
      /changed since planning \(mtimeMs\)/,
    ],
    [
      'a file replaced by another inode of the same size and mtime',
      async (d) => {
        // Whole seconds, so the replacement's mtime can match exactly.
        const when = new Date(1_700_000_000_000);
        await utimes(path.join(dir, d.fileName), when, when);
        const before = await planned(d.fileName);
        const replacement = path.join(dir, 'replacement.tmp');
        await writeFile(replacement, Buffer.alloc(d.fingerprint.size, 1));
        await utimes(replacement, when, when);
        await rename(replacement, path.join(dir, d.fileName));
        return before;
      },
      /changed since planning \(ino\)/,
    ],
    [
      'a file pinned after planning',
      async (d) => {
        await writeFile(path.join(dir, `${d.fileName}.keep`), '');
        return d;
      },
      /pinned since planning/,
    ],
    [
      // The checkpoint-restore-operator writes the pin to `.keep.tmp`, then renames it: pinned already.
      'a file whose pin is being written (<archive>.keep.tmp) since planning',
      async (d) => {
        await writeFile(path.join(dir, `${d.fileName}.keep.tmp`), '{"reason":');
        return d;
      },
      /pinned since planning \(.*\.keep\.tmp\)/,
    ],
    [
      'a pin being written that is a directory',
      async (d) => {
        await mkdir(path.join(dir, `${d.fileName}.keep.tmp`));
        return d;
      },
      /pinned since planning \(.*\.keep\.tmp\)/,
    ],
    [
      'a pin that is a dangling symlink',
      async (d) => {
        await symlink('nowhere', path.join(dir, `${d.fileName}.keep`));
        return d;
      },
      /pinned since planning/,
    ],
    [
      'a symlink planned as if it were the archive',
      async (d) => {
        const outside = path.join(root, 'precious.tar');
        await writeFile(outside, 'keep me');
        await rm(path.join(dir, d.fileName));
        await symlink(outside, path.join(dir, d.fileName));
        return planned(d.fileName);
      },
      /is a symbolic link/,
    ],
    [
      'a directory with the archive name',
      async (d) => {
        await rm(path.join(dir, d.fileName));
        await mkdir(path.join(dir, d.fileName));
        return planned(d.fileName);
      },
      /is not a regular file/,
    ],
    [
      'a name climbing out with ../',
      async () => {
        await writeFile(path.join(root, 'outside.tar'), 'x');
        return planned('../outside.tar', path.join(root, 'outside.tar'));
      },
      /contains a path separator/,
    ],
    ['the name ..', async (d) => ({ ...d, fileName: '..' }), /is not a plain name/],
    ['the name .', async (d) => ({ ...d, fileName: '.' }), /is not a plain name/],
    ['an empty name', async (d) => ({ ...d, fileName: '' }), /is not a plain name/],
    ['a name with NUL', async (d) => ({ ...d, fileName: `${d.fileName}\0x` }), /contains a path separator or NUL/],
    ['an absolute path', async (d) => ({ ...d, fileName: path.join(dir, d.fileName) }), /contains a path separator/],
  ];

  it.each(refusals)('refuses %s and deletes nothing', async (_name, tamper, reason) => {
    await archiveFile(NAME_A, 64);
    const original = await planned(NAME_A);
    const deletion = await tamper(original);
    const before = await readdir(root, { recursive: true });
    const { events, logs, observer, logger } = recorder();
    const executor = createRetentionExecutor({ directory: dir, dryRun: false, logger, observer });
    const result = await executor.execute(planOf([deletion]));
    expect(result.outcomes).toEqual([expect.objectContaining({ outcome: 'skipped', reason: expect.stringMatching(reason) })]);
    expect(result.deleted).toBe(0);
    expect(await readdir(root, { recursive: true })).toEqual(before);
    expect(events).toEqual([`verify ${deletion.fileName}`]);
    expect(logs).toEqual([expect.objectContaining({ msg: 'retention: not deleting archive', skipped: expect.stringMatching(reason) })]);
  });

  type Swap = () => Promise<void>;
  const directorySwaps: [string, Swap][] = [
    [
      'the directory path swapped for a symlink to another directory holding a hard link of the archive',
      async () => {
        await rename(dir, path.join(root, 'checkpoints.old'));
        await mkdir(path.join(root, 'elsewhere'));
        await link(path.join(root, 'checkpoints.old', NAME_A), path.join(root, 'elsewhere', NAME_A));
        await symlink(path.join(root, 'elsewhere'), dir);
      },
    ],
    [
      'the directory recreated with a hard link of the archive',
      async () => {
        await rename(dir, path.join(root, 'checkpoints.old'));
        await mkdir(dir);
        await link(path.join(root, 'checkpoints.old', NAME_A), path.join(dir, NAME_A));
      },
    ],
  ];

  it.each(directorySwaps)('refuses when %s, deleting nothing', async (_name, swap) => {
    await archiveFile(NAME_A, 64);
    const deletion = await planned(NAME_A);
    await swap();
    const before = await readdir(root, { recursive: true });
    const { events, observer, logger } = recorder();
    const result = await createRetentionExecutor({ directory: dir, dryRun: false, logger, observer }).execute(planOf([deletion]));
    expect(result.outcomes).toEqual([expect.objectContaining({ outcome: 'skipped', reason: expect.stringMatching(/checkpoint directory is not the one planned/) })]);
    expect(await readdir(root, { recursive: true })).toEqual(before);
    expect(events).toEqual([`verify ${NAME_A}`]);
  });

  it.each([
    ['missing', undefined],
    ['of another directory', { dev: 0, ino: 0 }],
  ])('refuses a plan whose directory identity is %s, deleting nothing', async (_name, directoryIdentity) => {
    await Promise.all([archiveFile(NAME_A), archiveFile(NAME_B)]);
    const deletions = [await planned(NAME_A), await planned(NAME_B)];
    const { events, observer, logger } = recorder();
    const executor = createRetentionExecutor({ directory: dir, dryRun: false, logger, observer });
    const result = await executor.execute({ deletions, unsatisfiable: [], effectiveLimits: [], ...(directoryIdentity ? { directoryIdentity } : {}) });
    expect(result).toMatchObject({ deleted: 0, skipped: 2 });
    expect(await remaining()).toEqual([NAME_A, NAME_B]);
    expect(events).toEqual([`verify ${NAME_A}`, `verify ${NAME_B}`]);
  });

  describe('hard links under disk pressure', () => {
    /** A disk-pressure deletion planned from what lstat says now, link count included, as the inventory records it. */
    const pressured = async (fileName: string): Promise<PlannedDeletion> => {
      const stats = await lstat(path.join(dir, fileName));
      return { ...(await planned(fileName)), fingerprint: { dev: stats.dev, ino: stats.ino, size: stats.size, mtimeMs: stats.mtimeMs, nlink: stats.nlink }, reason: 'disk_pressure', limitValue: undefined, scope: { level: 'node' } };
    };

    it('refuses a disk-pressure deletion of an archive linked elsewhere since planning (it would free nothing), and deletes it for a limit', async () => {
      await Promise.all([archiveFile(NAME_A, 64), archiveFile(NAME_B, 64)]);
      const [byPressure, byCount] = [await pressured(NAME_A), await planned(NAME_B)];
      await mkdir(path.join(root, 'backup'));
      // A backup by `cp -al` between the plan and the unlink.
      await link(path.join(dir, NAME_A), path.join(root, 'backup', NAME_A));
      await link(path.join(dir, NAME_B), path.join(root, 'backup', NAME_B));
      const { events, observer, logger } = recorder();
      const result = await createRetentionExecutor({ directory: dir, dryRun: false, logger, observer }).execute(planOf([byPressure, byCount]));
      expect(result.outcomes).toEqual([
        expect.objectContaining({ outcome: 'skipped', reason: 'hard-linked since planning (2 links, 1 planned): deleting it would free no space' }),
        expect.objectContaining({ outcome: 'deleted' }),
      ]);
      expect(await remaining()).toEqual([NAME_A]);
      expect(events).toEqual([`verify ${NAME_A}`, `deleted ${NAME_B} 64`]);
    });

    it('refuses a disk-pressure deletion planned without a link count', async () => {
      await archiveFile(NAME_A, 64);
      const { nlink: _unknown, ...fingerprint } = (await pressured(NAME_A)).fingerprint;
      const result = await createRetentionExecutor({ directory: dir, dryRun: false, ...recorder() }).execute(planOf([{ ...(await pressured(NAME_A)), fingerprint }]));
      expect(result.outcomes).toEqual([expect.objectContaining({ outcome: 'skipped', reason: expect.stringContaining('1 links, unknown planned') })]);
      expect(await remaining()).toEqual([NAME_A]);
    });

    it('deletes archives linked only to each other, planned together, one after the other', async () => {
      await archiveFile(NAME_A, 64);
      await link(path.join(dir, NAME_A), path.join(dir, NAME_B));
      const result = await createRetentionExecutor({ directory: dir, dryRun: false, ...recorder() }).execute(planOf([await pressured(NAME_A), await pressured(NAME_B)]));
      expect(result.deleted).toBe(2);
      expect(await remaining()).toEqual([]);
    });
  });

  it('skips a file that is already gone without calling it an error', async () => {
    await archiveFile(NAME_A);
    const deletion = await planned(NAME_A);
    await rm(path.join(dir, NAME_A));
    const { events, observer, logger } = recorder();
    const result = await createRetentionExecutor({ directory: dir, dryRun: false, logger, observer }).execute(planOf([deletion]));
    expect(result.outcomes).toEqual([expect.objectContaining({ outcome: 'skipped', reason: 'already gone' })]);
    expect(events).toEqual([]);
  });

  it('reports an lstat failure other than ENOENT', async () => {
    await archiveFile(NAME_A);
    const deletion = await planned(NAME_A);
    // The directory replaced by a file: lstat of a path under it fails with ENOTDIR.
    await rm(dir, { recursive: true });
    await writeFile(dir, 'not a directory');
    const { events, observer, logger } = recorder();
    const result = await createRetentionExecutor({ directory: dir, dryRun: false, logger, observer }).execute(planOf([deletion]));
    expect(result.outcomes).toEqual([expect.objectContaining({ outcome: 'skipped', reason: 'lstat failed: ENOTDIR' })]);
    expect(events).toEqual([`lstat ${NAME_A}`]);
  });

  it('runs one plan at a time, and idle() waits for the one in flight', async () => {
    const names = Array.from({ length: 6 }, (_, i) => `checkpoint-web-0_shop-api-2024-01-28T00:0${i}:00Z.tar`);
    await Promise.all(names.map((n) => archiveFile(n)));
    const deletions = await Promise.all(names.map((n) => planned(n)));
    const { events, observer, logger } = recorder();
    const executor = createRetentionExecutor({ directory: dir, dryRun: false, logger, observer });
    const first = executor.execute(planOf(deletions.slice(0, 3)));
    const second = executor.execute(planOf([...deletions.slice(3), deletions[0]!]));
    await executor.idle();
    expect(await remaining()).toEqual([]);
    expect(events.slice(0, 3)).toEqual(names.slice(0, 3).map((n) => `deleted ${n} 100`));
    expect(events.slice(3)).toEqual(names.slice(3).map((n) => `deleted ${n} 100`));
    expect((await first).deleted).toBe(3);
    expect((await second).outcomes.map((o) => o.outcome)).toEqual(['deleted', 'deleted', 'deleted', 'skipped']);
  });
});
