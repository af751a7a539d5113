import { describe, expect, it } from '@jest/globals';
import { mkdir, readdir, utimes, writeFile } from 'node:fs/promises';
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
async function start(dir: string, state: string, slowMs: number) {
  const recording = createRecordingIdentify();
  const persisted = createPersistedIndex({
    stateDir: state,
    directory: dir,
    logger,
    writeDelayMs: 1,
    identify: async (path, name, fingerprint) => {
      await new Promise((resolve) => setTimeout(resolve, slowMs));
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
});
