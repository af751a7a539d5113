import { afterEach, describe, expect, it } from '@jest/globals';
import { appendFile, mkdir, rename, rm, stat, symlink, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { FileFingerprint, IdentifiedArchive, ParsedArchiveName, Result } from '../../../src/archive/types.js';
import { createInventory, type IdentifyArchive, type Inventory, type InventoryDeps } from '../../../src/inventory/inventory.js';
import type { ArchiveRecord } from '../../../src/inventory/types.js';
import { clockBehindFiles, createManualClock, type ManualClock } from './manual-clock.js';
import { archiveName, createCapturingLogger, createManualWatch, createRecordingIdentify, withTempDir, type CapturedLog } from './fixtures.js';

const SETTLE = 100;
const POLL = 1_000;
const RESYNC = 60_000;
const A = archiveName('web-0', 'shop', 'nginx', '2024-01-01T00:00:00Z');
const B = archiveName('web-1', 'shop', 'nginx', '2024-01-02T00:00:00Z');
const WARN = 40;

interface Harness {
  readonly inventory: Inventory;
  readonly clock: ManualClock;
  readonly watch: ReturnType<typeof createManualWatch>;
  readonly reads: ReturnType<typeof createRecordingIdentify>['calls'];
  readonly settled: ArchiveRecord[];
  readonly logs: CapturedLog[];
  resyncs(): number;
  /** Advance the clock and wait for every check it triggered. */
  advance(ms: number): Promise<void>;
}

const running: Inventory[] = [];
afterEach(async () => {
  for (const inventory of running.splice(0)) await inventory.stop();
});

/** `clockStartMs`: where the clock stands against the files' real ctimes (see clockBehindFiles). */
async function harness(directory: string, overrides: Partial<InventoryDeps> = {}, clockStartMs = clockBehindFiles()): Promise<Harness> {
  const clock = createManualClock(clockStartMs);
  const watch = createManualWatch();
  const recording = createRecordingIdentify();
  const { logger, lines } = createCapturingLogger();
  const settled: ArchiveRecord[] = [];
  let resyncs = 0;
  const inventory = createInventory({
    directory,
    identify: recording.identify,
    logger,
    settleTimeMs: SETTLE,
    resyncIntervalMs: RESYNC,
    directoryPollIntervalMs: POLL,
    now: clock.now,
    timers: clock.timers,
    watch: watch.watch,
    onArchiveSettled: (record) => settled.push(record),
    onResync: () => {
      resyncs += 1;
    },
    ...overrides,
  });
  running.push(inventory);
  await inventory.start();
  await inventory.idle();
  return {
    inventory,
    clock,
    watch,
    reads: recording.calls,
    settled,
    logs: lines,
    resyncs: () => resyncs,
    async advance(ms) {
      clock.advance(ms);
      await inventory.idle();
    },
  };
}

async function emit(h: Harness, fileName: string): Promise<void> {
  h.watch.emit(fileName);
  await h.inventory.idle();
}

async function fingerprintOf(path: string): Promise<FileFingerprint> {
  const s = await stat(path);
  return { dev: s.dev, ino: s.ino, size: s.size, mtimeMs: s.mtimeMs, ctimeMs: s.ctimeMs, nlink: s.nlink };
}

async function identityOf(path: string): Promise<{ dev: number; ino: number }> {
  const s = await stat(path);
  return { dev: s.dev, ino: s.ino };
}

describe('createInventory (manual clock, real files)', () => {
  it('holds an archive pending until it stayed unchanged for the settle time, then identifies it once', () =>
    withTempDir(async (dir) => {
      await writeFile(join(dir, A), 'shop/nginx\n');
      const h = await harness(dir);
      expect(h.inventory.snapshot()).toMatchObject({ directoryPresent: true, pendingArchives: 1, archives: [], initialScanComplete: false });

      await h.advance(SETTLE - 1);
      expect(h.reads).toHaveLength(0);
      expect(h.inventory.snapshot().pendingArchives).toBe(1);

      await h.advance(1);
      const snapshot = h.inventory.snapshot();
      expect(snapshot).toMatchObject({ pendingArchives: 0, initialScanComplete: true });
      expect(snapshot.archives).toHaveLength(1);
      expect(snapshot.archives[0]).toMatchObject({
        fileName: A,
        identity: { namespace: 'shop', pod: 'web-0', container: 'nginx' },
        identitySources: ['cri-o'],
        unidentifiedReason: undefined,
        pinned: false,
        fingerprint: await fingerprintOf(join(dir, A)),
      });
      expect(h.reads).toHaveLength(1);
      expect(h.settled.map((record) => record.fileName)).toEqual([A]);
    }));

  it('reads an archive untouched for the settle time at once, with no second look (the ctime fast path)', () =>
    withTempDir(async (dir) => {
      await writeFile(join(dir, A), 'shop/nginx\n');
      // The clock exactly the settle time after the file's last change: nothing can still be writing it.
      // (Whole milliseconds, so the sub-millisecond part of ctime cannot round the age below the settle time.)
      const h = await harness(dir, {}, Math.ceil((await stat(join(dir, A))).ctimeMs) + SETTLE);
      expect(h.reads).toHaveLength(1);
      expect(h.reads[0]?.fingerprint).toEqual(await fingerprintOf(join(dir, A)));
      expect(h.inventory.snapshot()).toMatchObject({ pendingArchives: 0, initialScanComplete: true, archives: [{ fileName: A }] });
    }));

  it('holds an archive changed just under the settle time ago pending for a full settle time (the slow path)', () =>
    withTempDir(async (dir) => {
      await writeFile(join(dir, A), 'shop/nginx\n');
      // One millisecond short of the fast path: the settle clock starts at this first look.
      const h = await harness(dir, {}, Math.floor((await stat(join(dir, A))).ctimeMs) + SETTLE - 1);
      expect(h.reads).toHaveLength(0);
      expect(h.inventory.snapshot()).toMatchObject({ pendingArchives: 1, initialScanComplete: false, archives: [] });
      await h.advance(SETTLE - 1);
      expect(h.reads).toHaveLength(0);
      await h.advance(1);
      expect(h.reads).toHaveLength(1);
      expect(h.inventory.snapshot()).toMatchObject({ pendingArchives: 0, initialScanComplete: true, archives: [{ fileName: A }] });
    }));

  it('never reads a file that keeps growing, and reads it once it stops', () =>
    withTempDir(async (dir) => {
      await writeFile(join(dir, A), 'shop/nginx\n');
      const h = await harness(dir);
      for (let round = 0; round < 5; round += 1) {
        await appendFile(join(dir, A), 'more pages\n');
        await h.advance(SETTLE);
        expect(h.reads).toHaveLength(0);
        expect(h.inventory.snapshot()).toMatchObject({ pendingArchives: 1, archives: [] });
      }
      await h.advance(SETTLE);
      expect(h.reads).toHaveLength(1);
      expect(h.reads[0]?.fingerprint).toEqual(await fingerprintOf(join(dir, A)));
      expect(h.inventory.snapshot().archives).toHaveLength(1);
    }));

  it('reads identity once per fingerprint and again when the bytes change', () =>
    withTempDir(async (dir) => {
      await writeFile(join(dir, A), 'shop/nginx\n');
      const h = await harness(dir);
      await h.advance(SETTLE);
      await emit(h, A);
      await h.inventory.resync();
      await h.advance(SETTLE);
      expect(h.reads).toHaveLength(1);

      await writeFile(join(dir, A), 'shop/nginx\nreplaced\n');
      await emit(h, A);
      expect(h.inventory.snapshot()).toMatchObject({ archives: [], pendingArchives: 1 });
      await h.advance(SETTLE);
      expect(h.reads).toHaveLength(2);
      expect(h.settled).toHaveLength(2);
      expect(h.inventory.snapshot().archives[0]?.fingerprint.size).toBe('shop/nginx\nreplaced\n'.length);
    }));

  it('discards an identity read during which the file changed, and settles the new bytes', () =>
    withTempDir(async (dir) => {
      await writeFile(join(dir, A), 'shop/nginx\n');
      const recording = createRecordingIdentify();
      let release: () => void = () => undefined;
      let blocked = true;
      // Like the real reader: a file whose size or mtime moved under the read is reported as changed.
      const identify: IdentifyArchive = async (path, name, fingerprint) => {
        if (blocked) {
          blocked = false;
          await new Promise<void>((resolve) => {
            release = resolve;
          });
        }
        const result = await recording.identify(path, name, fingerprint);
        const now = await fingerprintOf(path);
        if (now.size !== fingerprint.size || now.mtimeMs !== fingerprint.mtimeMs) return { ok: false, reason: 'changed while read', retry: 'changed' };
        return result;
      };
      const h = await harness(dir, { identify });
      h.clock.advance(SETTLE);
      // Let the check reach the blocked read without waiting for idle (the read never finishes on its own).
      while (h.inventory.snapshot().pendingArchives === 1 && recording.calls.length === 0 && blocked) await new Promise((r) => setImmediate(r));
      await appendFile(join(dir, A), 'written during the read\n');
      release();
      await h.inventory.idle();
      expect(h.inventory.snapshot()).toMatchObject({ archives: [], pendingArchives: 1 });
      await h.advance(SETTLE);
      const archives = h.inventory.snapshot().archives;
      expect(archives).toHaveLength(1);
      expect(archives[0]?.fingerprint).toEqual(await fingerprintOf(join(dir, A)));
      expect(h.settled).toHaveLength(1);
    }));

  it('counts symlinks, subdirectories and foreign files as unrecognized and never reads them', () =>
    withTempDir(async (dir) => {
      await writeFile(join(dir, A), 'shop/nginx\n');
      await writeFile(join(dir, 'notes.txt'), 'twelve bytes');
      await symlink(join(dir, A), join(dir, B));
      await mkdir(join(dir, 'subdir'));
      const h = await harness(dir);
      await h.advance(SETTLE);
      const snapshot = h.inventory.snapshot();
      expect(snapshot.archives.map((record) => record.fileName)).toEqual([A]);
      expect([...snapshot.unrecognized].sort((x, y) => x.fileName.localeCompare(y.fileName))).toEqual([
        { fileName: B, size: 0 },
        { fileName: 'notes.txt', size: 12 },
        { fileName: 'subdir', size: 0 },
      ]);
      expect(h.reads.map((read) => read.fileName)).toEqual([A]);
    }));

  it('follows pin files: pinned beside their archive, unrecognized when the archive is absent', () =>
    withTempDir(async (dir) => {
      await writeFile(join(dir, A), 'shop/nginx\n');
      await writeFile(join(dir, `${A}.keep`), '');
      await writeFile(join(dir, `${B}.keep`), 'stale');
      const h = await harness(dir);
      await h.advance(SETTLE);
      expect(h.inventory.snapshot().archives[0]?.pinned).toBe(true);
      expect(h.settled[0]?.pinned).toBe(true);
      expect(h.inventory.snapshot().unrecognized).toEqual([{ fileName: `${B}.keep`, size: 5 }]);

      await unlink(join(dir, `${A}.keep`));
      await emit(h, `${A}.keep`);
      expect(h.inventory.snapshot().archives[0]?.pinned).toBe(false);

      await writeFile(join(dir, B), 'shop/nginx\n');
      await emit(h, B);
      expect(h.inventory.snapshot().unrecognized).toEqual([]);
      await h.advance(SETTLE);
      expect(h.inventory.snapshot().archives.find((record) => record.fileName === B)?.pinned).toBe(true);
    }));

  it.each<[string, IdentifyArchive | undefined, string, string]>([
    ['spec.dump gives no identity', undefined, 'not an identity line\n', 'no identity line'],
    [
      'the reader throws',
      async () => {
        throw new Error('disk on fire');
      },
      'shop/nginx\n',
      'identity reader failed: disk on fire',
    ],
  ])('keeps an archive unidentified, with its reason, when %s', (_case, identify, content, reason) =>
    withTempDir(async (dir) => {
      await writeFile(join(dir, A), content);
      const h = await harness(dir, identify === undefined ? {} : { identify });
      await h.advance(SETTLE);
      const [record] = h.inventory.snapshot().archives;
      expect(record?.identity).toBeUndefined();
      expect(record?.unidentifiedReason).toContain(reason);
      expect(h.inventory.snapshot().initialScanComplete).toBe(true);
      expect(h.inventory.index().unidentified.size).toBe(1);
      expect(h.logs.some((line) => line.level === WARN && line.msg.includes('unidentified'))).toBe(true);
    }));

  it('waits for a missing directory with one warning, then watches it once it appears', () =>
    withTempDir(async (root) => {
      const dir = join(root, 'checkpoints');
      const h = await harness(dir);
      expect(h.inventory.snapshot()).toMatchObject({ directoryPresent: false, initialScanComplete: true, archives: [] });
      await h.advance(POLL);
      await h.advance(POLL);
      expect(h.logs.filter((line) => line.level === WARN)).toHaveLength(1);

      await mkdir(dir);
      await writeFile(join(dir, A), 'shop/nginx\n');
      await h.advance(POLL);
      expect(h.inventory.snapshot()).toMatchObject({ directoryPresent: true, pendingArchives: 1 });
      await h.advance(SETTLE);
      expect(h.inventory.snapshot().archives).toHaveLength(1);
    }));

  it.each([
    ['the watcher reports the directory gone', 'event'],
    ['a resync finds it gone', 'resync'],
    ['the periodic directory check finds it gone', 'probe'],
  ])('goes back to waiting when %s, and recovers', (_case, how) =>
    withTempDir(async (root) => {
      const dir = join(root, 'checkpoints');
      await mkdir(dir);
      await writeFile(join(dir, A), 'shop/nginx\n');
      const h = await harness(dir);
      await h.advance(SETTLE);
      expect(h.inventory.snapshot().archives).toHaveLength(1);

      await rm(dir, { recursive: true });
      if (how === 'event') {
        h.watch.gone();
        await h.inventory.idle();
      } else if (how === 'resync') {
        await h.inventory.resync();
      } else {
        await h.advance(POLL);
      }
      expect(h.inventory.snapshot()).toMatchObject({ directoryPresent: false, archives: [], pendingArchives: 0 });
      expect(h.watch.closed()).toBe(1);

      await mkdir(dir);
      await writeFile(join(dir, B), 'shop/nginx\n');
      await h.advance(POLL);
      await h.advance(SETTLE);
      expect(h.inventory.snapshot()).toMatchObject({ directoryPresent: true });
      expect(h.inventory.snapshot().archives.map((record) => record.fileName)).toEqual([B]);
    }));

  it('drops an identity read started on a directory replaced meanwhile: what it found never lands in the new view', () =>
    withTempDir(async (root) => {
      const dir = join(root, 'checkpoints');
      await mkdir(dir);
      await writeFile(join(dir, A), 'shop/nginx\n');
      const recording = createRecordingIdentify();
      let release: () => void = () => undefined;
      let blocked = true;
      const identify: IdentifyArchive = async (path, name, fingerprint) => {
        if (blocked) {
          blocked = false;
          await new Promise<void>((resolve) => {
            release = resolve;
          });
        }
        return recording.identify(path, name, fingerprint);
      };
      const h = await harness(dir, { identify });
      h.clock.advance(SETTLE);
      // Let the settle check reach the blocked read (it never finishes on its own, so idle() would not return).
      while (blocked) await new Promise((r) => setImmediate(r));
      await rename(dir, join(root, 'old'));
      await mkdir(dir);
      await writeFile(join(dir, A), 'shop/nginx\nanother directory\n');
      const resynced = h.inventory.resync();
      while (h.watch.closed() === 0) await new Promise((r) => setImmediate(r));
      release();
      await resynced;
      await h.inventory.idle();
      // The read of the old directory's A finished after the new directory was attached: A is still pending there.
      expect(h.inventory.snapshot()).toMatchObject({ archives: [], pendingArchives: 1, initialScanComplete: false });
      expect(h.settled).toEqual([]);
      await h.advance(SETTLE);
      expect(h.inventory.snapshot().archives.map((record) => record.fingerprint)).toEqual([await fingerprintOf(join(dir, A))]);
      expect(h.settled).toHaveLength(1);
    }));

  it('re-attaches when the directory was replaced by another one at the same path', () =>
    withTempDir(async (root) => {
      const dir = join(root, 'checkpoints');
      await mkdir(dir);
      const h = await harness(dir);
      await rename(dir, join(root, 'old'));
      await mkdir(dir);
      await writeFile(join(dir, A), 'shop/nginx\n');
      await h.inventory.resync();
      expect(h.watch.closed()).toBe(1);
      await h.advance(SETTLE);
      expect(h.inventory.snapshot().archives.map((record) => record.fileName)).toEqual([A]);
    }));

  it.each([
    ['the watcher reports the directory gone', 'event'],
    ['a resync finds it replaced', 'resync'],
    ['the periodic directory check finds it replaced', 'probe'],
  ])('after re-attaching when %s, keeps initialScanComplete false until every archive present at attach has settled', (_case, how) =>
    withTempDir(async (root) => {
      const dir = join(root, 'checkpoints');
      await mkdir(dir);
      await writeFile(join(dir, A), 'shop/nginx\n');
      const h = await harness(dir);
      await h.advance(SETTLE);
      expect(h.inventory.snapshot()).toMatchObject({ initialScanComplete: true, archives: [{ fileName: A }] });

      // A new directory (a remount, a restore) already holding both archives replaces the watched one at once.
      const replacement = join(root, 'replacement');
      await mkdir(replacement);
      await writeFile(join(replacement, A), 'shop/nginx\n');
      await writeFile(join(replacement, B), 'shop/nginx\n');
      await rename(dir, join(root, 'old'));
      await rename(replacement, dir);
      if (how === 'event') {
        h.watch.gone();
        await h.inventory.idle();
      } else if (how === 'resync') {
        await h.inventory.resync();
      } else {
        await h.advance(POLL);
      }
      expect(h.watch.closed()).toBe(1);
      expect(h.inventory.snapshot()).toMatchObject({ directoryPresent: true, initialScanComplete: false, archives: [], pendingArchives: 2 });

      await appendFile(join(dir, B), 'still writing\n');
      await h.advance(SETTLE);
      expect(h.inventory.snapshot()).toMatchObject({ initialScanComplete: false, archives: [{ fileName: A }], pendingArchives: 1 });

      await h.advance(SETTLE);
      expect(h.inventory.snapshot()).toMatchObject({ initialScanComplete: true, pendingArchives: 0 });
      expect(h.inventory.snapshot().archives).toHaveLength(2);
    }));

  it('after re-attaching to an empty directory, does not wait for archives that arrive later', () =>
    withTempDir(async (root) => {
      const dir = join(root, 'checkpoints');
      await mkdir(dir);
      await writeFile(join(dir, A), 'shop/nginx\n');
      const h = await harness(dir);
      await h.advance(SETTLE);
      await rm(dir, { recursive: true });
      await h.inventory.resync();
      expect(h.inventory.snapshot()).toMatchObject({ directoryPresent: false, initialScanComplete: true });

      await mkdir(dir);
      await h.advance(POLL);
      expect(h.inventory.snapshot()).toMatchObject({ directoryPresent: true, initialScanComplete: true, archives: [] });
      await writeFile(join(dir, B), 'shop/nginx\n');
      await emit(h, B);
      expect(h.inventory.snapshot()).toMatchObject({ initialScanComplete: true, pendingArchives: 1 });
    }));

  it.each([
    ['a plain directory', false],
    ['a symlink to a directory (its target is what is listed)', true],
  ])('reports the identity of the listed directory when the path is %s, and none while it is absent', (_case, viaSymlink) =>
    withTempDir(async (root) => {
      const dir = join(root, 'checkpoints');
      const h = await harness(dir);
      expect(h.inventory.snapshot()).toMatchObject({ directoryPresent: false, directoryIdentity: undefined });

      const real = viaSymlink ? join(root, 'disk') : dir;
      await mkdir(real);
      if (viaSymlink) await symlink(real, dir);
      await h.advance(POLL);
      const first = await identityOf(real);
      expect(h.inventory.snapshot()).toMatchObject({ directoryPresent: true, directoryIdentity: first });
      expect(Object.isFrozen(h.inventory.snapshot().directoryIdentity)).toBe(true);

      // Another directory takes over the path: the identity follows the one now listed.
      const other = join(root, 'other');
      await mkdir(other);
      await writeFile(join(other, A), 'shop/nginx\n');
      await rename(real, join(root, 'old'));
      await rename(other, real);
      await h.inventory.resync();
      const second = await identityOf(real);
      expect(second).not.toEqual(first);
      expect(h.inventory.snapshot()).toMatchObject({ directoryPresent: true, directoryIdentity: second, pendingArchives: 1 });

      await rm(real, { recursive: true });
      await h.inventory.resync();
      expect(h.inventory.snapshot()).toMatchObject({ directoryPresent: false, directoryIdentity: undefined });
    }));

  it.each([
    ['an explicit resync', async (h: Harness) => h.inventory.resync()],
    ['the periodic resync', async (h: Harness) => h.advance(RESYNC)],
  ])('%s heals changes no event reported', (_case, resync) =>
    withTempDir(async (dir) => {
      await writeFile(join(dir, A), 'shop/nginx\n');
      await writeFile(join(dir, 'notes.txt'), 'a');
      const h = await harness(dir);
      await h.advance(SETTLE);
      const before = h.inventory.snapshot();

      await unlink(join(dir, A));
      await writeFile(join(dir, B), 'shop/nginx\n');
      await appendFile(join(dir, 'notes.txt'), 'bcd');
      expect(h.inventory.snapshot()).toBe(before);

      await resync(h);
      expect(h.resyncs()).toBe(1);
      const after = h.inventory.snapshot();
      expect(after).toMatchObject({ archives: [], pendingArchives: 1, unrecognized: [{ fileName: 'notes.txt', size: 4 }] });
      expect(after.lastScanTimestampMs).toBe(h.clock.now());
      await h.advance(SETTLE);
      expect(h.inventory.snapshot().archives.map((record) => record.fileName)).toEqual([B]);
    }));

  it('records when each full scan finished and how long it took', () =>
    withTempDir(async (dir) => {
      const clock = createManualClock(clockBehindFiles());
      // Each reading of the clock moves it 250 ms, so a scan spanning two readings takes a known time.
      const now = (): number => {
        clock.advance(250);
        return clock.now();
      };
      const h = await harness(dir, { now, timers: clock.timers });
      const snapshot = h.inventory.snapshot();
      expect(snapshot.lastScanDurationSeconds).toBe(0.25);
      expect(snapshot.lastScanTimestampMs).toBeLessThanOrEqual(clock.now());
    }));

  it('keeps initialScanComplete false until every archive present at start has settled; later arrivals do not count', () =>
    withTempDir(async (dir) => {
      await writeFile(join(dir, A), 'shop/nginx\n');
      await writeFile(join(dir, B), 'shop/nginx\n');
      const h = await harness(dir);
      await appendFile(join(dir, B), 'still writing\n');
      await h.advance(SETTLE);
      expect(h.inventory.snapshot()).toMatchObject({ initialScanComplete: false, pendingArchives: 1 });
      const late = archiveName('web-2', 'shop', 'nginx');
      await writeFile(join(dir, late), 'shop/nginx\n');
      await emit(h, late);
      await h.advance(SETTLE);
      expect(h.inventory.snapshot()).toMatchObject({ initialScanComplete: true, pendingArchives: 0 });
      expect(h.inventory.snapshot().archives).toHaveLength(3);
    }));

  it('returns the same snapshot object until something changes', () =>
    withTempDir(async (dir) => {
      await writeFile(join(dir, A), 'shop/nginx\n');
      const h = await harness(dir);
      await h.advance(SETTLE);
      const first = h.inventory.snapshot();
      await emit(h, A);
      expect(h.inventory.snapshot()).toBe(first);
      expect(h.inventory.index()).toBe(h.inventory.index());
      // A resync records a new scan time, so the snapshot is new, but unchanged archives keep their records.
      await h.inventory.resync();
      expect(h.inventory.snapshot()).not.toBe(first);
      expect(h.inventory.snapshot().archives[0]).toBe(first.archives[0]);
      await writeFile(join(dir, 'notes.txt'), 'x');
      await emit(h, 'notes.txt');
      expect(h.inventory.snapshot()).not.toBe(first);
      expect(h.inventory.snapshot().unrecognized).toHaveLength(1);
    }));

  it('stops cleanly: no timers left, watcher closed, no callbacks afterwards', () =>
    withTempDir(async (dir) => {
      await writeFile(join(dir, A), 'shop/nginx\n');
      const h = await harness(dir);
      await h.inventory.stop();
      expect(h.clock.armed()).toBe(0);
      expect(h.watch.closed()).toBe(1);
      h.watch.emit(A);
      await h.advance(SETTLE * 10);
      expect(h.settled).toHaveLength(0);
      expect(h.reads).toHaveLength(0);
    }));

  it('refuses to start twice', () =>
    withTempDir(async (dir) => {
      const h = await harness(dir);
      await expect(h.inventory.start()).rejects.toThrow('already started');
    }));
});

export type { IdentifiedArchive, ParsedArchiveName, Result };
