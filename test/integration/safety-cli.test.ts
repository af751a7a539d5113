import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, chown, mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { pinFileNameOf } from '../../src/archive/archive-name.js';
import { writeSampleArchive, type SampleArchiveOptions } from '../../src/demo/sample-archives.js';
import { findBinary } from '../support/binaries.js';
import { sampleValue } from '../support/metrics-text.js';
import { serveBinary, type ServedBinary } from '../support/serve-binary.js';
import { stageForUser, type StagedUser } from '../support/stage-for-user.js';
import { waitUntil } from '../support/wait.js';

/**
 * Issue 10, cases 4, 5, 6, 8 and 9, on the built binary: clock skew, pins that fill a limit, pins of
 * every entry type, a transient read error and an unreadable directory never delete what should stay
 * and never go unreported.
 */
const run = promisify(execFile);
const OWNER = { namespace: 'shop-prod', pod: 'cart-0', container: 'cart-api' } as const;
const HOUR = 3_600_000;
const HEADER = 'apiVersion: criu.org/v1\nkind: CheckpointRestoreOperator\nmetadata:\n  name: node-policy\n';

let root: string;
let counter = 0;
const running: ServedBinary[] = [];
// What the unprivileged user of the EACCES case runs, staged by that case.
let nobody: StagedUser | undefined;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'safety-cli-'));
  // Traversable by the unprivileged user of the EACCES case.
  await chmod(root, 0o755);
});
afterEach(async () => {
  for (const served of running.splice(0)) await served.stop();
});
afterAll(async () => {
  // After afterEach: the exporter run from these copies has stopped.
  await nobody?.remove();
  await rm(root, { recursive: true, force: true });
});

async function directory(): Promise<string> {
  const dir = join(root, `archives-${(counter += 1)}`);
  await mkdir(dir);
  return dir;
}

const at = (ms: number): SampleArchiveOptions => ({ ...OWNER, timestamp: new Date(ms), runtime: 'containerd', payloadBytes: 512 });

async function policy(maxPerContainer: number): Promise<string> {
  const file = join(root, `policy-${(counter += 1)}.yaml`);
  await writeFile(file, `${HEADER}spec:\n  globalPolicy:\n    maxCheckpointsPerContainer: ${maxPerContainer}\n`);
  return file;
}

async function serve(args: string[], options: { as?: StagedUser } = {}): Promise<ServedBinary> {
  const served = await serveBinary(args, options);
  running.push(served);
  await waitUntil(async () => (await fetch(`${served.url}readyz`)).status === 200, 'ready', 30_000);
  await waitUntil(async () => (sampleValue(await served.metrics(), 'checkpoint_retention_last_run_timestamp_seconds') ?? 0) > 0, 'first retention run', 30_000);
  return served;
}

/** When the last finished retention run started, from the status view; 0 before the first. */
const lastRunStartMs = async (served: ServedBinary): Promise<number> => {
  const status = (await (await fetch(`${served.url}api/v1/status`)).json()) as { retention: { lastRun: { startedAt: string } | null } };
  return status.retention.lastRun === null ? 0 : Date.parse(status.retention.lastRun.startedAt);
};

describe('safety of deletion on the built binary', () => {
  it('case 4: archives dated ahead of the clock never push out a real new checkpoint', async () => {
    const dir = await directory();
    const now = Date.now();
    const future = [await writeSampleArchive(dir, at(now + 365 * 24 * HOUR)), await writeSampleArchive(dir, at(now + 366 * 24 * HOUR))];
    // A resync every second asks for a full run, so a run that starts after the new archive is counted comes whatever the load.
    const served = await serve(['--checkpoint-dir', dir, '--config', await policy(2), '--settle-time', '200ms', '--resync-interval', '1s']);
    const real = await writeSampleArchive(dir, at(now - 60_000));
    await waitUntil(async () => sampleValue(await served.metrics(), 'checkpoint_archives', OWNER) === 3, 'the new archive is counted');
    const countedMs = Date.now();
    // Not a pause: a run that began after the archive was counted has finished (its deletions with it), so it had its chance to delete.
    await waitUntil(async () => (await lastRunStartMs(served)) > countedMs, 'a retention run that saw the new archive finished');
    expect((await readdir(dir)).sort()).toEqual([...future, real].sort());
    const text = await served.metrics();
    expect(sampleValue(text, 'checkpoint_future_dated_archives')).toBe(2);
    expect(served.log()).toContain('future-dated');
  });

  it('case 5: pins that fill a count limit make it unsatisfiable, and the forced deletion says so', async () => {
    const dir = await directory();
    const now = Date.now();
    const pinned = [await writeSampleArchive(dir, at(now - 3 * HOUR)), await writeSampleArchive(dir, at(now - 2 * HOUR))];
    for (const file of pinned) await writeFile(join(dir, pinFileNameOf(file)), '');
    const served = await serve(['--checkpoint-dir', dir, '--config', await policy(2), '--settle-time', '200ms']);
    await waitUntil(
      async () => sampleValue(await served.metrics(), 'checkpoint_retention_limit_unsatisfiable', { ...OWNER, limit: 'count' }) === 1,
      'the pins make the limit unsatisfiable',
    );
    const fresh = await writeSampleArchive(dir, at(now - 60_000));
    await waitUntil(async () => !existsSync(join(dir, fresh)), 'the limit is still kept');
    for (const file of pinned) expect(existsSync(join(dir, file))).toBe(true);
    expect(sampleValue(await served.metrics(), 'checkpoint_retention_limit_unsatisfiable', { ...OWNER, limit: 'count' })).toBe(1);
    expect(served.log()).toContain('forced by pins');
  });

  it('case 6: a .keep that is a directory, a symlink or a dangling symlink pins, and nothing is planned and then refused', async () => {
    const dir = await directory();
    const start = Date.parse('2026-03-01T00:00:00Z');
    const files: string[] = [];
    for (let i = 0; i < 13; i += 1) files.push(await writeSampleArchive(dir, at(start + i * 60_000)));
    await mkdir(join(dir, pinFileNameOf(files[0]!)));
    await symlink(join(root, 'nowhere'), join(dir, pinFileNameOf(files[1]!)));
    await symlink(join(dir, files[2]!), join(dir, pinFileNameOf(files[2]!)));
    const served = await serve(['--checkpoint-dir', dir, '--settle-time', '200ms']);
    await waitUntil(async () => sampleValue(await served.metrics(), 'checkpoint_archives', OWNER) === 10, 'the limit of 10 is reached');
    const left = new Set(await readdir(dir));
    for (const file of files.slice(0, 3)) expect(left.has(file)).toBe(true);
    for (const file of files.slice(3, 6)) expect(left.has(file)).toBe(false);
    for (const file of files.slice(6)) expect(left.has(file)).toBe(true);
    const text = await served.metrics();
    expect(sampleValue(text, 'checkpoint_archives_pinned', OWNER)).toBe(3);
    expect(sampleValue(text, 'checkpoint_retention_errors_total', { operation: 'verify' })).toBe(0);
  });

  it('case 8: a transient read error (EMFILE) is retried, and the archive is identified once it passes', async () => {
    if (findBinary('prlimit', 'util-linux') === undefined) return;
    const dir = await directory();
    await writeSampleArchive(dir, at(Date.parse('2026-03-01T00:00:00Z')));
    const served = await serve(['--checkpoint-dir', dir, '--settle-time', '200ms']);
    const limits = await readFile(`/proc/${served.pid}/limits`, 'utf8');
    const softLimit = /^Max open files\s+(\d+)/m.exec(limits)?.[1] ?? '1024';
    const open = new Set((await readdir(`/proc/${served.pid}/fd`)).map(Number));
    let lowestFree = 0;
    while (open.has(lowestFree)) lowestFree += 1;
    // A new descriptor takes the lowest free number: with the limit there, the next open of an archive fails with EMFILE.
    await run('prlimit', [`--pid=${served.pid}`, `--nofile=${lowestFree}:`]);
    await writeSampleArchive(dir, at(Date.parse('2026-03-01T01:00:00Z')));
    await waitUntil(async () => served.log().includes('transient error reading checkpoint archive'), 'the read failed and is retried', 20_000);
    await run('prlimit', [`--pid=${served.pid}`, `--nofile=${softLimit}:`]);
    await waitUntil(async () => sampleValue(await served.metrics(), 'checkpoint_archives', OWNER) === 2, 'identified after the retry', 30_000);
    expect(sampleValue(await served.metrics(), 'checkpoint_unidentified_archives')).toBe(0);
  });

  it('case 9: an unreadable directory keeps the last known inventory, reports it and counts the error', async () => {
    if (typeof process.getuid !== 'function' || process.getuid() !== 0) {
      if (process.env['CI'] === 'true') throw new Error('case 9 needs root to run the exporter as another user; CI runs as root');
      process.stderr.write('\n*** SKIPPING case 9: not root, cannot run the exporter as an unprivileged user ***\n\n');
      return;
    }
    const dir = await directory();
    for (let i = 0; i < 3; i += 1) await writeSampleArchive(dir, at(Date.parse('2026-03-01T00:00:00Z') + i * 60_000));
    nobody = await stageForUser();
    await chown(dir, nobody.uid, nobody.gid);
    const served = await serve(['--checkpoint-dir', dir, '--dry-run', '--resync-interval', '300ms', '--settle-time', '200ms'], { as: nobody });
    expect(sampleValue(await served.metrics(), 'checkpoint_archives', OWNER)).toBe(3);
    await chmod(dir, 0o000);
    try {
      await waitUntil(async () => sampleValue(await served.metrics(), 'checkpoint_directory_readable') === 0, 'the failing listing is reported');
      const text = await served.metrics();
      expect(sampleValue(text, 'checkpoint_archives', OWNER)).toBe(3);
      expect(sampleValue(text, 'checkpoint_directory_present')).toBe(1);
      expect(sampleValue(text, 'checkpoint_scan_errors_total', { operation: 'readdir' })).toBeGreaterThan(0);
    } finally {
      await chmod(dir, 0o755);
    }
    await waitUntil(async () => sampleValue(await served.metrics(), 'checkpoint_directory_readable') === 1, 'readable again');
    expect(sampleValue(await served.metrics(), 'checkpoint_archives', OWNER)).toBe(3);
  });
});
