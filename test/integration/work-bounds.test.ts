import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeSampleArchive, type SampleArchiveOptions } from '../../src/demo/sample-archives.js';
import { forEachConcurrent } from '../../src/concurrency.js';
import { sampleValue } from '../support/metrics-text.js';
import { waitUntil } from '../support/wait.js';

/**
 * Guards the incremental data path on the built binary by counting work, not time: on a few thousand
 * archives, start-up builds no inventory snapshot per archive and plans the whole directory a bounded
 * number of times, and each new archive re-plans only its own namespace.
 */
const MAIN = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));
const NAMESPACES = 30;
const CONTAINERS_PER_NAMESPACE = 10;
const PER_CONTAINER = 10;
const ARCHIVES = NAMESPACES * CONTAINERS_PER_NAMESPACE * PER_CONTAINER;
const PER_NAMESPACE = CONTAINERS_PER_NAMESPACE * PER_CONTAINER;
const NEW_ARCHIVES = 20;

const owner = (c: number): Pick<SampleArchiveOptions, 'namespace' | 'pod' | 'container'> => ({
  namespace: `team-${c % NAMESPACES}`,
  pod: `api-${c}`,
  container: 'server',
});
const archive = (c: number, nth: number): SampleArchiveOptions => ({
  ...owner(c),
  timestamp: new Date(Date.parse('2026-01-01T00:00:00Z') + nth * 60_000),
  runtime: 'cri-o',
  payloadBytes: 1024,
});

describe('work per change on the built binary (counted, not timed)', () => {
  let dir: string;
  let child: ChildProcess | undefined;
  let url = '';
  const metrics = async (): Promise<string> => (await fetch(`${url}metrics`)).text();

  beforeAll(async () => {
    if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: run npm run build (npm test does)`);
    dir = await mkdtemp(join(tmpdir(), 'work-bounds-'));
    const jobs = Array.from({ length: ARCHIVES }, (_, i) => i);
    await forEachConcurrent(jobs, 32, async (i) => {
      await writeSampleArchive(dir, archive(i % (NAMESPACES * CONTAINERS_PER_NAMESPACE), Math.floor(i / (NAMESPACES * CONTAINERS_PER_NAMESPACE))));
    });
    child = spawn(process.execPath, [MAIN, 'serve', '--checkpoint-dir', dir, '--listen-address', '127.0.0.1:0', '--settle-time', '200ms', '--log-level', 'info'], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    url = await new Promise<string>((resolve, reject) => {
      let text = '';
      child?.stderr?.on('data', (chunk: Buffer) => {
        text += chunk.toString('utf8');
        const match = /"url":"(http:[^"]+)"/.exec(text);
        if (match?.[1] !== undefined) resolve(match[1]);
      });
      child?.on('exit', (code) => reject(new Error(`exporter exited with ${code}: ${text}`)));
    });
    await waitUntil(async () => (await fetch(`${url}readyz`)).status === 200, 'ready', 60_000);
    await waitUntil(async () => (sampleValue(await metrics(), 'checkpoint_retention_last_run_timestamp_seconds') ?? 0) > 0, 'first retention run', 60_000);
  }, 120_000);

  afterAll(async () => {
    if (child && child.exitCode === null) {
      const exited = new Promise((resolve) => child?.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    }
    await rm(dir, { recursive: true, force: true });
  });

  it(`starts on ${ARCHIVES.toLocaleString('en-US')} archives with no snapshot rebuild per archive and a bounded number of full plans`, async () => {
    const text = await metrics();
    // Nothing asked for a copy of the inventory: settling archives never builds one.
    expect(sampleValue(text, 'checkpoint_inventory_snapshot_builds_total')).toBeLessThanOrEqual(1);
    // One full plan once the initial scan completes (a second may follow a resync or a policy load).
    expect(sampleValue(text, 'checkpoint_retention_runs_total', { kind: 'full' })).toBeLessThanOrEqual(2);
    expect(sampleValue(text, 'checkpoint_retention_planned_archives_total')).toBeLessThanOrEqual(2 * ARCHIVES);
    expect(sampleValue(text, 'checkpoint_archives', owner(0))).toBe(PER_CONTAINER);
  });

  it('re-plans only the namespace of each new archive, and deletes the oldest of its container', async () => {
    const before = await metrics();
    const planned = sampleValue(before, 'checkpoint_retention_planned_archives_total') ?? NaN;
    const fullRuns = sampleValue(before, 'checkpoint_retention_runs_total', { kind: 'full' });
    for (let i = 0; i < NEW_ARCHIVES; i += 1) {
      const container = i * 7;
      await writeSampleArchive(dir, { ...archive(container, PER_CONTAINER + 100), timestamp: new Date(Date.now() - i * 1000) });
    }
    await waitUntil(async () => (await readdir(dir)).length === ARCHIVES, 'every container back at its limit', 30_000);
    await waitUntil(async () => sampleValue(await metrics(), 'checkpoint_pending_archives') === 0, 'settled', 30_000);
    const after = await metrics();
    expect(sampleValue(after, 'checkpoint_retention_runs_total', { kind: 'full' })).toBe(fullRuns);
    const added = (sampleValue(after, 'checkpoint_retention_planned_archives_total') ?? NaN) - planned;
    // Each new archive settles, then its deletion is seen: at most two re-plans of its namespace each.
    // Planning the whole directory per archive would be NEW_ARCHIVES × ARCHIVES.
    expect(added).toBeGreaterThan(0);
    expect(added).toBeLessThanOrEqual(NEW_ARCHIVES * 2 * (PER_NAMESPACE + 2));
    expect(sampleValue(after, 'checkpoint_retention_deletions_total', { namespace: 'team-0', reason: 'count' })).toBeGreaterThanOrEqual(1);
  });
});
