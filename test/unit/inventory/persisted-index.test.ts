import { describe, expect, it } from '@jest/globals';
import { chmod, mkdir, readdir, stat, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pino } from 'pino';
import { createInventory } from '../../../src/inventory/inventory.js';
import { createPersistedIndex } from '../../../src/inventory/persisted-index.js';
import { waitUntil } from '../../support/wait.js';
import { archiveName, createRecordingIdentify, withTempDir } from './fixtures.js';

const logger = pino({ level: 'silent' });
const OLD = new Date(Date.now() - 60_000);

async function writeArchives(dir: string, count: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    const path = join(dir, archiveName(`web-${i}`, 'shop', 'nginx'));
    await writeFile(path, 'shop/nginx\n');
    await utimes(path, OLD, OLD);
  }
}

/** A started inventory behind a persisted index, its reads slowed so a timed write can come before the first scan ends. */
async function start(dir: string, state: string, slowMs: number, broken = false) {
  const recording = createRecordingIdentify();
  const persisted = createPersistedIndex({
    stateDir: state,
    directory: dir,
    logger,
    writeDelayMs: 1,
    identify: async (path, name, fingerprint) => {
      await new Promise((resolve) => setTimeout(resolve, slowMs));
      if (broken) throw new Error('a reader bug');
      return recording.identify(path, name, fingerprint);
    },
  });
  const inventory = createInventory({ directory: dir, identify: persisted.identify, logger, settleTimeMs: 10, watch: false, identifyConcurrency: 1 });
  persisted.follow(inventory);
  await persisted.load();
  await inventory.start();
  await waitUntil(() => inventory.status().initialScanComplete, 'the first scan');
  return { inventory, persisted, reads: () => recording.calls.length };
}

describe('the persisted index beside a running inventory', () => {
  it('writes once the first scan is complete though its timer fired during it, and the next start reads nothing', async () => {
    await withTempDir(async (root) => {
      const dir = join(root, 'archives');
      const state = join(root, 'state');
      await mkdir(dir);
      await writeArchives(dir, 5);
      const first = await start(dir, state, 20);
      expect(first.reads()).toBe(5);
      // No stop: the timed write alone must get there.
      await waitUntil(() => first.persisted.counts().writes === 1, 'the timed write after the first scan');
      expect(await readdir(state)).toEqual(['archives.index']);
      await first.inventory.stop();
      await first.persisted.stop();

      const second = await start(dir, state, 0);
      expect(second.reads()).toBe(0);
      expect(second.persisted.counts().reused).toBe(5);
      expect(second.inventory.snapshot().archives.map((record) => record.identity?.namespace)).toEqual(['shop', 'shop', 'shop', 'shop', 'shop']);
      await second.inventory.stop();
      await second.persisted.stop();
    });
  });

  it('does not vouch for a ctime that moved without a read: a same-size rewrite with mtime set back is read again at the next start', async () => {
    await withTempDir(async (root) => {
      const dir = join(root, 'archives');
      const state = join(root, 'state');
      await mkdir(dir);
      const path = join(dir, archiveName('web-0', 'shop', 'nginx'));
      await writeFile(path, 'shop/nginx\n');
      await utimes(path, OLD, OLD);
      const first = await start(dir, state, 0);
      expect(first.inventory.snapshot().archives[0]?.identity?.container).toBe('nginx');
      // Other bytes of the same size, mtime put back: only ctime says so. A chmod moves it too.
      const before = await stat(path);
      await writeFile(path, 'shop/nginy\n');
      await utimes(path, OLD, OLD);
      await chmod(path, 0o640);
      const after = await stat(path);
      expect([after.size, after.mtimeMs, after.ino]).toEqual([before.size, before.mtimeMs, before.ino]);
      expect(after.ctimeMs).not.toBe(before.ctimeMs);
      // The change reaches the index's subscription as one batch, as it reaches this one.
      const told = new Promise<void>((resolve) => {
        const unsubscribe = first.inventory.subscribe(() => {
          unsubscribe();
          resolve();
        });
      });
      await first.inventory.refresh([path.slice(dir.length + 1)]);
      await told;
      // The record took the new ctime without a read...
      expect(first.inventory.snapshot().archives[0]?.fingerprint.ctimeMs).toBe(after.ctimeMs);
      expect(first.reads()).toBe(1);
      // The index's last write comes while the inventory still runs, so it sees the record as it is now.
      await first.persisted.stop();
      await first.inventory.stop();

      // ...but the index keeps the ctime the identity was read with, so the next start reads the new bytes.
      const second = await start(dir, state, 0);
      expect(second.reads()).toBe(1);
      expect(second.persisted.counts().reused).toBe(0);
      // The new bytes name another container than the file name: unidentified, never the old identity.
      expect(second.inventory.snapshot().archives[0]?.identity).toBeUndefined();
      await second.inventory.stop();
      await second.persisted.stop();
    });
  });

  it('does not persist what a reader that threw left: the next start reads the archive again', async () => {
    await withTempDir(async (root) => {
      const dir = join(root, 'archives');
      const state = join(root, 'state');
      await mkdir(dir);
      await writeArchives(dir, 2);
      const first = await start(dir, state, 0, true);
      expect(first.inventory.snapshot().archives.map((record) => record.identity)).toEqual([undefined, undefined]);
      await first.inventory.stop();
      await first.persisted.stop();

      const second = await start(dir, state, 0);
      expect(second.reads()).toBe(2);
      expect(second.persisted.counts().reused).toBe(0);
      expect(second.inventory.snapshot().archives.map((record) => record.identity?.namespace)).toEqual(['shop', 'shop']);
      await second.inventory.stop();
      await second.persisted.stop();
    });
  });
});
