import { afterEach, describe, expect, it } from '@jest/globals';
import { appendFile, lstat, mkdir, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pinFileNameOf } from '../../src/archive/archive-name.js';
import { writeSampleArchive } from '../../src/demo/sample-archives.js';
import { startHarness, tempDirectory, type ExporterHarness, type HarnessOptions } from '../support/exporter-harness.js';
import { sampleValue } from '../support/metrics-text.js';
import { waitUntil } from '../support/wait.js';

const cart = { namespace: 'shop-prod', pod: 'cart-0', container: 'cart-api' };
const HOUR = 3_600_000;

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const tempDir = (): Promise<string> => tempDirectory(cleanups);
const start = (dir: string, opts: HarnessOptions = {}): Promise<ExporterHarness> => startHarness(dir, cleanups, opts);

async function writeCartArchives(dir: string, count: number, firstMs: number): Promise<string[]> {
  const names: string[] = [];
  for (let i = 0; i < count; i += 1) {
    names.push(await writeSampleArchive(dir, { ...cart, timestamp: new Date(firstMs + i * HOUR), runtime: 'cri-o', payloadBytes: 2048 }));
  }
  return names;
}

async function exists(path: string): Promise<boolean> {
  return lstat(path).then(
    () => true,
    () => false,
  );
}

describe('exporter on a real directory over real HTTP', () => {
  it('deletes the oldest unpinned archive over the limit and leaves pins, symlinks and foreign files alone', async () => {
    const dir = await tempDir();
    const outside = await tempDir();
    const base = Date.parse('2026-03-01T00:00:00Z');
    const names = await writeCartArchives(dir, 12, base);
    // The oldest is pinned: the two next-oldest must go instead.
    await writeFile(join(dir, pinFileNameOf(names[0]!)), '');
    // A symlink named like an old archive, pointing at a real archive outside the directory.
    const target = await writeSampleArchive(outside, { ...cart, timestamp: new Date(base - 10 * HOUR), runtime: 'cri-o' });
    await symlink(join(outside, target), join(dir, target));
    await writeFile(join(dir, 'notes.txt'), 'not an archive\n');

    const h = await start(dir);
    await waitUntil(async () => (await fetch(`${h.exporter.url}readyz`)).status === 200, 'readiness');
    await waitUntil(async () => sampleValue(await h.metrics(), 'checkpoint_archives', cart) === 10, '10 archives left');

    expect(await exists(join(dir, names[0]!))).toBe(true);
    expect(await exists(join(dir, names[1]!))).toBe(false);
    expect(await exists(join(dir, names[2]!))).toBe(false);
    for (const kept of names.slice(3)) expect(await exists(join(dir, kept))).toBe(true);
    expect((await lstat(join(dir, target))).isSymbolicLink()).toBe(true);
    expect(await exists(join(outside, target))).toBe(true);
    expect(await exists(join(dir, 'notes.txt'))).toBe(true);

    const text = await h.metrics();
    expect(sampleValue(text, 'checkpoint_archives_pinned', cart)).toBe(1);
    expect(sampleValue(text, 'checkpoint_retention_deletions_total', { namespace: 'shop-prod', reason: 'count' })).toBe(2);
    expect(sampleValue(text, 'checkpoint_unrecognized_files')).toBe(2);
    // The global limit is exported once for the node, not repeated for every container.
    expect(sampleValue(text, 'checkpoint_retention_global_limit_archives', { level: 'container' })).toBe(10);
    expect(sampleValue(text, 'checkpoint_retention_limit_archives', cart)).toBeUndefined();
    expect(sampleValue(text, 'checkpoint_retention_last_run_timestamp_seconds')).toBeGreaterThan(0);
    // Once carried out, the deletions are no longer planned: the unlinks re-plan the namespace.
    await waitUntil(async () => sampleValue(await h.metrics(), 'checkpoint_retention_planned_deletions', { reason: 'count' }) === 0, 'planned deletions back to 0');
    const plan = await h.json<{ deletions: unknown[] }>('api/v1/plan');
    expect(plan.deletions).toEqual([]);
  });

  it('follows archives as they appear and disappear, and only reads a growing file once it settles', async () => {
    const dir = await tempDir();
    const h = await start(dir);
    await waitUntil(async () => (await fetch(`${h.exporter.url}readyz`)).status === 200, 'readiness');
    expect(sampleValue(await h.metrics(), 'checkpoint_archives', cart)).toBeUndefined();

    const [first] = await writeCartArchives(dir, 1, Date.parse('2026-03-01T00:00:00Z'));
    await waitUntil(async () => sampleValue(await h.metrics(), 'checkpoint_archives', cart) === 1, 'first archive counted');

    // Written in pieces: until it stops changing it is pending, not identified and never a deletion candidate.
    const growing = 'checkpoint-cart-0_shop-prod-cart-api-2026-03-02T00:00:00Z.tar';
    const staging = await tempDir();
    const full = await writeSampleArchive(staging, { ...cart, timestamp: '2026-03-02T00:00:00Z', runtime: 'cri-o', payloadBytes: 64 * 1024 });
    const bytes = await readFile(join(staging, full));
    let offset = 0;
    const chunk = 4096;
    await writeFile(join(dir, growing), bytes.subarray(0, chunk));
    offset = chunk;
    let sawPending = false;
    while (offset < bytes.length) {
      await new Promise((r) => setTimeout(r, 40));
      await appendFile(join(dir, growing), bytes.subarray(offset, offset + chunk));
      offset += chunk;
      const text = await h.metrics();
      // While it grows the container still has exactly the first archive.
      expect(sampleValue(text, 'checkpoint_archives', cart)).toBe(1);
      if ((sampleValue(text, 'checkpoint_pending_archives') ?? 0) > 0) sawPending = true;
    }
    expect(sawPending).toBe(true);
    await waitUntil(async () => sampleValue(await h.metrics(), 'checkpoint_archives', cart) === 2, 'settled archive counted');
    const listed = await h.json<{ archives: { file: string; container: string | null }[] }>('api/v1/archives');
    expect(listed.archives.map((a) => a.file).sort()).toEqual([first, growing].sort());
    expect(listed.archives.every((a) => a.container === 'cart-api')).toBe(true);

    await rm(join(dir, first!));
    await waitUntil(async () => sampleValue(await h.metrics(), 'checkpoint_archives', cart) === 1, 'deleted archive gone');
    await rm(join(dir, growing));
    await waitUntil(async () => sampleValue(await h.metrics(), 'checkpoint_archives', cart) === undefined, 'series disappear');
  });

  it('plans but deletes nothing in dry run', async () => {
    const dir = await tempDir();
    const names = await writeCartArchives(dir, 13, Date.parse('2026-03-01T00:00:00Z'));
    const h = await start(dir, { dryRun: true });
    await waitUntil(async () => sampleValue(await h.metrics(), 'checkpoint_retention_planned_deletions', { reason: 'count' }) === 3, 'plan of 3');
    const text = await h.metrics();
    expect(sampleValue(text, 'checkpoint_archives', cart)).toBe(13);
    expect(sampleValue(text, 'checkpoint_retention_dry_run')).toBe(1);
    expect(sampleValue(text, 'checkpoint_retention_deletions_total', { namespace: 'shop-prod', reason: 'count' })).toBeUndefined();
    const plan = await h.json<{ dryRun: boolean; deletions: { file: string; reason: string }[] }>('api/v1/plan');
    expect(plan.dryRun).toBe(true);
    expect(plan.deletions.map((d) => d.file)).toEqual(names.slice(0, 3));
    expect((await readdir(dir)).length).toBe(13);
  });

  it('hot-reloads the policy file and keeps the last good policy when a reload is invalid', async () => {
    const dir = await tempDir();
    const configDir = await tempDir();
    const configPath = join(configDir, 'policy.yaml');
    const policy = (perContainer: number | string): string =>
      `apiVersion: criu.org/v1\nkind: CheckpointRestoreOperator\nmetadata: {name: test}\nspec:\n  globalPolicy:\n    maxCheckpointsPerContainer: ${perContainer}\n`;
    await writeFile(configPath, policy(8));
    await writeCartArchives(dir, 9, Date.parse('2026-03-01T00:00:00Z'));
    const h = await start(dir, { configPath });
    await waitUntil(async () => sampleValue(await h.metrics(), 'checkpoint_archives', cart) === 8, 'limit 8 enforced');

    await writeFile(configPath, policy(5));
    await waitUntil(async () => sampleValue(await h.metrics(), 'checkpoint_archives', cart) === 5, 'reloaded limit 5 enforced');
    expect(sampleValue(await h.metrics(), 'checkpoint_config_last_reload_successful')).toBe(1);

    await writeFile(configPath, policy('"many"'));
    await waitUntil(async () => sampleValue(await h.metrics(), 'checkpoint_config_last_reload_successful') === 0, 'failed reload reported');
    // The last good limit (5) still applies to new archives.
    await writeCartArchives(dir, 1, Date.parse('2026-04-01T00:00:00Z'));
    await waitUntil(async () => sampleValue(await h.metrics(), 'checkpoint_retention_deletions_total', { namespace: 'shop-prod', reason: 'count' }) === 5, 'one more deletion under the kept limit');
    await waitUntil(async () => sampleValue(await h.metrics(), 'checkpoint_archives', cart) === 5, 'back to 5 archives');
    const described = await h.json<{ sources: { file: { lastReloadSuccessful: boolean } } }>('api/v1/policy');
    expect(described.sources.file.lastReloadSuccessful).toBe(false);
  });

  it('reports a missing directory, then picks it up once it appears', async () => {
    const parent = await tempDir();
    const dir = join(parent, 'checkpoints');
    const h = await start(dir);
    expect(sampleValue(await h.metrics(), 'checkpoint_directory_present')).toBe(0);
    await mkdir(dir);
    await writeCartArchives(dir, 1, Date.parse('2026-03-01T00:00:00Z'));
    await waitUntil(async () => sampleValue(await h.metrics(), 'checkpoint_archives', cart) === 1, 'archive in the new directory', 30_000);
    expect(sampleValue(await h.metrics(), 'checkpoint_directory_present')).toBe(1);
  });

  it('deletes archives older than maxCheckpointAge by the time in their names', async () => {
    const dir = await tempDir();
    const configDir = await tempDir();
    const configPath = join(configDir, 'policy.yaml');
    await writeFile(configPath, 'apiVersion: criu.org/v1\nkind: CheckpointRestoreOperator\nspec:\n  globalPolicy:\n    maxCheckpointAge: 2d\n');
    const now = Date.now();
    // Three archives from about 5 days ago, two from the last day. The file mtimes are all fresh: the name decides.
    const old = await writeCartArchives(dir, 3, now - 5 * 24 * HOUR);
    const recent = await writeCartArchives(dir, 2, now - 20 * HOUR);
    const h = await start(dir, { configPath });
    await waitUntil(async () => sampleValue(await h.metrics(), 'checkpoint_archives', cart) === 2, 'old archives deleted');
    for (const f of old) expect(await exists(join(dir, f))).toBe(false);
    for (const f of recent) expect(await exists(join(dir, f))).toBe(true);
    const text = await h.metrics();
    expect(sampleValue(text, 'checkpoint_retention_deletions_total', { namespace: 'shop-prod', reason: 'age' })).toBe(3);
    expect(sampleValue(text, 'checkpoint_retention_global_limit_age_seconds')).toBe(2 * 24 * 3600);
  });
});
