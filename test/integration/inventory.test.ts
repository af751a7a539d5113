import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { appendFile, mkdir, mkdtemp, readdir, readFile, rename, rm, stat, symlink, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { readArchiveIdentity } from '../../src/archive/identity.js';
import type { FileFingerprint } from '../../src/archive/types.js';
import { encodeTar } from '../../src/demo/tar-writer.js';
import { sampleArchiveEntries, sampleArchiveName, writeSampleArchive, type SampleArchiveOptions } from '../../src/demo/sample-archives.js';
import { watchDirectory, type WatchDirectory } from '../../src/inventory/directory-watcher.js';
import { createInventory, type Inventory, type InventoryDeps } from '../../src/inventory/inventory.js';
import type { ArchiveRecord, InventorySnapshot } from '../../src/inventory/types.js';

/** Generous: these wait on real filesystem events and real timers, and must not flake on a loaded machine. */
const DEADLINE_MS = 15_000;
const SETTLE_MS = 100;

async function until(what: string, condition: () => boolean): Promise<void> {
  const deadline = Date.now() + DEADLINE_MS;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** File times come from the kernel's coarse clock, up to a tick (10 ms at HZ=100) behind the write. */
const TIMESTAMP_SLACK_MS = 20;

/**
 * Appends `bytes` in chunks of `step`, pausing `pauseMs` between them, and remembers how long the file can
 * have kept each size at most: from before the append that made it to after the append that followed it.
 */
async function appendSlowly(path: string, bytes: Uint8Array, step: number, pauseMs: number): Promise<{ heldAtMostMs(size: number): number }> {
  const held = new Map<number, number>();
  let previous: { size: number; startedMs: number } | undefined;
  for (let offset = 0; offset < bytes.length; offset += step) {
    const startedMs = Date.now();
    await appendFile(path, bytes.subarray(offset, offset + step));
    if (previous !== undefined) held.set(previous.size, Date.now() - previous.startedMs);
    previous = { size: Math.min(offset + step, bytes.length), startedMs };
    await new Promise((resolve) => setTimeout(resolve, pauseMs));
  }
  // A size the file never had (half an append) was held for no time at all.
  return { heldAtMostMs: (size) => (size === previous?.size ? Infinity : (held.get(size) ?? 0)) };
}

const sample = (pod: string, container: string, runtime: SampleArchiveOptions['runtime'] = 'cri-o'): SampleArchiveOptions => ({
  namespace: 'shop-prod',
  pod,
  container,
  timestamp: new Date(Date.UTC(2024, 0, 28, 0, 10, 45)),
  runtime,
  payloadBytes: 4096,
});

let root = '';
let dir = '';
let inventory: Inventory | undefined;
let reads: { fileName: string; fingerprint: FileFingerprint }[] = [];
let settled: ArchiveRecord[] = [];

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'inventory-it-'));
  dir = join(root, 'checkpoints');
  reads = [];
  settled = [];
});

afterEach(async () => {
  await inventory?.stop();
  inventory = undefined;
  await rm(root, { recursive: true, force: true });
});

async function startInventory(overrides: Partial<InventoryDeps> = {}): Promise<Inventory> {
  inventory = createInventory({
    directory: dir,
    logger: pino({ level: 'silent' }),
    settleTimeMs: SETTLE_MS,
    directoryPollIntervalMs: 50,
    identify: (path, name, fingerprint) => {
      reads.push({ fileName: name.fileName, fingerprint });
      return readArchiveIdentity(path, name, fingerprint);
    },
    onArchiveSettled: (record) => settled.push(record),
    ...overrides,
  });
  await inventory.start();
  return inventory;
}

const names = (snapshot: InventorySnapshot): string[] => snapshot.archives.map((record) => record.fileName).sort();

describe('inventory on a real directory with a real watcher', () => {
  it('follows archives as they appear and disappear, reading each identity once', async () => {
    await mkdir(dir);
    const inv = await startInventory();
    await until('the initial scan completes', () => inv.snapshot().initialScanComplete);

    const first = await writeSampleArchive(dir, sample('web-0', 'nginx'));
    const second = await writeSampleArchive(dir, sample('ledger-0', 'ledger', 'containerd'));
    await until('both archives settle', () => inv.snapshot().archives.length === 2);
    expect(names(inv.snapshot())).toEqual([first, second].sort());
    expect(inv.index().ofContainer('shop-prod', 'ledger-0', 'ledger').map((record) => record.identitySources)).toEqual([['containerd']]);
    expect(inv.snapshot().archives.every((record) => record.identity !== undefined)).toBe(true);
    expect(settled.map((record) => record.fileName).sort()).toEqual([first, second].sort());

    await unlink(join(dir, first));
    await until('the removed archive leaves the snapshot', () => inv.snapshot().archives.length === 1);
    expect(names(inv.snapshot())).toEqual([second]);
    expect(reads.map((read) => read.fileName).sort()).toEqual([first, second].sort());
  });

  it('does not read an archive while it is still being written', async () => {
    await mkdir(dir);
    // A settle time far above the write cadence: the writer pauses that long only when the machine stalls it.
    const settleTimeMs = 400;
    const inv = await startInventory({ settleTimeMs });
    const options = sample('web-0', 'nginx');
    const fileName = sampleArchiveName(options);
    const bytes = encodeTar(sampleArchiveEntries(options));
    const chunks = 60;
    const step = Math.ceil(bytes.length / chunks);
    const appends = await appendSlowly(join(dir, fileName), bytes, step, 10);
    await until('the finished archive settles', () => inv.snapshot().archives.length === 1);
    const [record] = inv.snapshot().archives;
    expect(record?.fingerprint.size).toBe(bytes.length);
    expect(record?.identity).toEqual({ namespace: 'shop-prod', pod: 'web-0', container: 'nginx' });
    expect(reads.at(-1)?.fingerprint.size).toBe(bytes.length);
    // Every read of a shorter size happened at a size the file kept at least the settle time: a stall of
    // the writer on a loaded machine, which the exporter cannot tell from a finished file. Not one read
    // at a size the file kept for a few milliseconds, which is what reading an unsettled file looks like.
    const unsettled = reads
      .filter((read) => read.fingerprint.size !== bytes.length)
      .map((read) => ({ size: read.fingerprint.size, heldAtMostMs: appends.heldAtMostMs(read.fingerprint.size) }))
      .filter((read) => read.heldAtMostMs < settleTimeMs - TIMESTAMP_SLACK_MS);
    expect(unsettled).toEqual([]);
  });

  it('counts a symlink named like an archive and a foreign file as unrecognized, and never reads them', async () => {
    await mkdir(dir);
    const elsewhere = join(root, 'elsewhere');
    await mkdir(elsewhere);
    const real = await writeSampleArchive(dir, sample('web-0', 'nginx'));
    const target = await writeSampleArchive(elsewhere, sample('web-1', 'nginx'));
    await symlink(join(elsewhere, target), join(dir, target));
    await writeFile(join(dir, 'notes.txt'), 'investigation notes');
    await mkdir(join(dir, 'scratch'));
    const inv = await startInventory();
    await until('the real archive settles', () => inv.snapshot().initialScanComplete && inv.snapshot().archives.length === 1);
    expect(names(inv.snapshot())).toEqual([real]);
    expect([...inv.snapshot().unrecognized].sort((a, b) => (a.fileName < b.fileName ? -1 : 1))).toEqual([
      { fileName: target, size: 0 },
      { fileName: 'notes.txt', size: 'investigation notes'.length },
      { fileName: 'scratch', size: 0 },
    ]);
    expect(reads.map((read) => read.fileName)).toEqual([real]);
  });

  it('marks pinned archives and counts a pin without its archive as unrecognized', async () => {
    await mkdir(dir);
    const inv = await startInventory();
    const archive = await writeSampleArchive(dir, sample('web-0', 'nginx'));
    await writeFile(join(dir, `${archive}.keep`), 'incident 42\n');
    await until('the archive settles pinned', () => inv.snapshot().archives[0]?.pinned === true);

    await unlink(join(dir, `${archive}.keep`));
    await until('the archive is no longer pinned', () => inv.snapshot().archives[0]?.pinned === false);

    const orphanPin = `${sampleArchiveName(sample('gone-0', 'nginx'))}.keep`;
    await writeFile(join(dir, orphanPin), 'x');
    // Created empty, then written: the write's own event brings the size in.
    await until('the orphan pin is counted with its bytes', () => inv.snapshot().unrecognized.some((file) => file.fileName === orphanPin && file.size === 1));
    expect(inv.snapshot().unrecognized).toEqual([{ fileName: orphanPin, size: 1 }]);
  });

  it('waits for a missing directory, watches it once created, and waits again when it is removed', async () => {
    const inv = await startInventory();
    expect(inv.snapshot()).toMatchObject({ directoryPresent: false, initialScanComplete: true });

    await mkdir(dir);
    const archive = await writeSampleArchive(dir, sample('web-0', 'nginx'));
    await until('the archive in the new directory settles', () => inv.snapshot().directoryPresent && inv.snapshot().archives.length === 1);
    expect(names(inv.snapshot())).toEqual([archive]);

    await rm(dir, { recursive: true });
    await until('the removal is noticed', () => !inv.snapshot().directoryPresent);
    expect(inv.snapshot().archives).toEqual([]);

    await mkdir(dir);
    const again = await writeSampleArchive(dir, sample('web-1', 'nginx'));
    await until('the recreated directory is watched', () => inv.snapshot().directoryPresent && inv.snapshot().archives.length === 1);
    expect(names(inv.snapshot())).toEqual([again]);
  });

  it('after the directory is replaced by a full one, reports the scan complete only once every archive in it has settled', async () => {
    await mkdir(dir);
    await writeSampleArchive(dir, sample('web-0', 'nginx'));
    let replacedIno: number | undefined;
    const seen: { complete: boolean; archives: number }[] = [];
    const inv = await startInventory({
      onArchiveSettled: () => {
        const snapshot = inv.snapshot();
        if (replacedIno !== undefined && snapshot.directoryIdentity?.ino === replacedIno) {
          seen.push({ complete: snapshot.initialScanComplete, archives: snapshot.archives.length });
        }
      },
    });
    await until('the first directory is scanned', () => inv.snapshot().initialScanComplete && inv.snapshot().archives.length === 1);

    // A remount or restore: a new directory already holding many archives takes over the path in one step.
    const replacement = join(root, 'replacement');
    await mkdir(replacement);
    const pods = Array.from({ length: 12 }, (_, i) => `db-${i}`);
    for (const pod of pods) await writeSampleArchive(replacement, sample(pod, 'postgres'));
    replacedIno = (await stat(replacement)).ino;
    await rename(dir, join(root, 'old'));
    await rename(replacement, dir);

    await until('the replacement is fully settled', () => inv.snapshot().directoryIdentity?.ino === replacedIno && inv.snapshot().archives.length === pods.length);
    expect(inv.snapshot()).toMatchObject({ initialScanComplete: true, pendingArchives: 0 });
    expect(seen.length).toBe(pods.length);
    // Every snapshot of the new directory taken while its archives settled one by one is marked incomplete but the last.
    expect(seen.filter((view) => view.complete)).toEqual([{ complete: true, archives: pods.length }]);
  });

  it('watches a checkpoint directory that is itself a symlink, while entries inside are still never followed', async () => {
    const real = join(root, 'disk', 'checkpoints');
    await mkdir(real, { recursive: true });
    await symlink(real, dir);
    const inv = await startInventory();
    await until('the initial scan completes', () => inv.snapshot().initialScanComplete);
    const target = await stat(real);
    expect(inv.snapshot().directoryIdentity).toEqual({ dev: target.dev, ino: target.ino });
    // No resync runs within the deadline (default interval), so only watcher events can bring this in.
    const archive = await writeSampleArchive(real, sample('web-0', 'nginx'));
    await until('the archive written behind the symlink settles', () => inv.snapshot().archives.length === 1);
    expect(names(inv.snapshot())).toEqual([archive]);
  });

  it('heals, by resync, changes made while the watcher delivered nothing', async () => {
    await mkdir(dir);
    let deliver = true;
    // The real directory watch, with its events dropped on the floor while `deliver` is false.
    const gatedWatch: WatchDirectory = (directory, events) =>
      watchDirectory(directory, {
        entryChanged: (fileName) => {
          if (deliver) events.entryChanged(fileName);
        },
        directoryChanged: () => {
          if (deliver) events.directoryChanged();
        },
        error: (error) => events.error(error),
      });
    let resyncs = 0;
    const kept = await writeSampleArchive(dir, sample('web-0', 'nginx'));
    const removed = await writeSampleArchive(dir, sample('web-1', 'nginx'));
    const inv = await startInventory({ watch: gatedWatch, onResync: () => (resyncs += 1) });
    await until('both archives settle', () => inv.snapshot().archives.length === 2);

    deliver = false;
    await unlink(join(dir, removed));
    const added = await writeSampleArchive(dir, sample('web-2', 'nginx'));
    const before = inv.snapshot().lastScanTimestampMs ?? 0;

    await inv.resync();
    expect(resyncs).toBe(1);
    expect(names(inv.snapshot())).toEqual([kept]);
    expect(inv.snapshot().pendingArchives).toBe(1);
    expect(inv.snapshot().lastScanTimestampMs).toBeGreaterThanOrEqual(before);
    expect(inv.snapshot().lastScanDurationSeconds).toBeGreaterThanOrEqual(0);
    await until('the archive found by resync settles', () => inv.snapshot().archives.length === 2);
    expect(names(inv.snapshot())).toEqual([kept, added].sort());
  });
});

/** inotify watches this process holds, from /proc (Linux): one line per watch in the fdinfo of each inotify descriptor. */
async function inotifyWatches(): Promise<number> {
  let count = 0;
  for (const fd of await readdir('/proc/self/fdinfo')) {
    const info = await readFile(`/proc/self/fdinfo/${fd}`, 'utf8').catch(() => '');
    count += info.split('\n').filter((line) => line.startsWith('inotify wd:')).length;
  }
  return count;
}

describe('inventory watch budget', () => {
  it('holds one inotify watch for the directory, whatever the number of archives, and follows each of them', async () => {
    await mkdir(dir);
    const archives = 300;
    const before = await inotifyWatches();
    for (let i = 0; i < archives; i += 1) await writeFile(join(dir, sampleArchiveName(sample(`web-${i}`, 'nginx'))), encodeTar(sampleArchiveEntries(sample(`web-${i}`, 'nginx'))));
    const inv = await startInventory();
    await until('every archive settles', () => inv.snapshot().archives.length === archives);
    expect((await inotifyWatches()) - before).toBe(1);
    // Still one after more arrive, and the one watch sees them.
    const late = await writeSampleArchive(dir, sample('late-0', 'nginx'));
    await until('the late archive settles through the watch', () => inv.snapshot().archives.some((record) => record.fileName === late));
    expect((await inotifyWatches()) - before).toBe(1);
    await inv.stop();
    expect((await inotifyWatches()) - before).toBe(0);
  });
});

describe('inventory: lost events heal within seconds, not at the next periodic resync', () => {
  /** A watch that is live but reports only what `deliver` lets through, as a kernel queue that overflowed would. */
  function lossyWatch(deliver: (fileName: string) => boolean): WatchDirectory {
    return (directory, events) =>
      watchDirectory(directory, {
        entryChanged: (fileName) => {
          if (deliver(fileName)) events.entryChanged(fileName);
        },
        directoryChanged: () => events.directoryChanged(),
        error: (error) => events.error(error),
      });
  }

  it('rescans when the directory changed and the watch reported nothing (unreported_change)', async () => {
    await mkdir(dir);
    const inv = await startInventory({ watch: lossyWatch(() => false), resyncIntervalMs: 3_600_000 });
    await until('the initial scan completes', () => inv.snapshot().initialScanComplete);
    expect(inv.status().resyncs).toMatchObject({ initial: 1, unreported_change: 0 });
    const written = await writeSampleArchive(dir, sample('web-0', 'nginx'));
    await until('the unreported archive is found and settles', () => inv.snapshot().archives.length === 1);
    expect(names(inv.snapshot())).toEqual([written]);
    expect(inv.status().resyncs.unreported_change).toBeGreaterThanOrEqual(1);
    expect(inv.status().resyncs.periodic).toBe(0);
  });

  it('rescans after a burst of events large enough to have overflowed the queue (events_lost), though some events came', async () => {
    await mkdir(dir);
    // Every event after the first few is dropped, as the kernel drops what no longer fits its queue.
    let delivered = 0;
    const inv = await startInventory({
      watch: lossyWatch(() => (delivered += 1) <= 4),
      resyncIntervalMs: 3_600_000,
      lostEventsThreshold: 4,
      directoryPollIntervalMs: 200,
    });
    await until('the initial scan completes', () => inv.snapshot().initialScanComplete);
    const written: string[] = [];
    for (let i = 0; i < 6; i += 1) written.push(await writeSampleArchive(dir, { ...sample(`web-${i}`, 'nginx') }));
    await until('every archive of the burst is found', () => inv.snapshot().archives.length === written.length);
    expect(names(inv.snapshot())).toEqual(written.sort());
    expect(inv.status().resyncs.events_lost).toBeGreaterThanOrEqual(1);
    expect(inv.status().resyncs.periodic).toBe(0);
  });
});
