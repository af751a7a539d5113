import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { readFileSync, writeFileSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeSampleArchive, type SampleArchiveOptions } from '../../src/demo/sample-archives.js';
import { sampleValue } from '../support/metrics-text.js';
import { serveBinary, type ServedBinary } from '../support/serve-binary.js';
import { stageForUser, type StagedUser } from '../support/stage-for-user.js';
import { waitUntil } from '../support/wait.js';

/**
 * Issue 16, on the built binary: every state in which the exporter cannot see is a signal. An
 * unreadable directory is not a missing one, and events the kernel dropped heal within seconds.
 */
const OWNER = { namespace: 'shop-prod', pod: 'cart-0', container: 'cart-api' } as const;
const at = (ms: number, pod: string = OWNER.pod): SampleArchiveOptions => ({ ...OWNER, pod, timestamp: new Date(ms), runtime: 'containerd', payloadBytes: 256 });

const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;

/** Root is needed to run as another user and to lower the inotify queue; CI runs as root. */
function needsRoot(what: string): boolean {
  if (isRoot) return true;
  if (process.env['CI'] === 'true') throw new Error(`${what} needs root; CI runs as root`);
  process.stderr.write(`\n*** SKIPPING ${what}: not root ***\n\n`);
  return false;
}

let root: string;
let counter = 0;
const running: ServedBinary[] = [];
let staged: StagedUser | undefined;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'directory-signals-'));
  // Traversable by the unprivileged user of the unreadable case.
  await chmod(root, 0o755);
});
afterEach(async () => {
  for (const served of running.splice(0)) await served.stop();
});
afterAll(async () => {
  await staged?.remove();
  await rm(root, { recursive: true, force: true });
});

async function directory(): Promise<string> {
  const dir = join(root, `archives-${(counter += 1)}`);
  await mkdir(dir);
  return dir;
}

async function serve(args: string[], options: { as?: StagedUser } = {}): Promise<ServedBinary> {
  const served = await serveBinary(args, options);
  running.push(served);
  return served;
}

interface Status {
  readonly ready: boolean;
  readonly directory: { readonly state: string; readonly problem: string | null };
}

describe('the directory cannot be seen: a signal, never silence', () => {
  it('an existing directory the exporter may not read is unreadable, not missing: metric, error count, one log line, status; it recovers', async () => {
    if (!needsRoot('the unreadable-directory case')) return;
    staged ??= await stageForUser();
    const dir = await directory();
    const archives = [await writeSampleArchive(dir, at(Date.parse('2026-03-01T00:00:00Z'))), await writeSampleArchive(dir, at(Date.parse('2026-03-01T01:00:00Z')))];
    // Owned by root and closed to everyone else.
    await chmod(dir, 0o000);
    try {
      const served = await serve(['--checkpoint-dir', dir, '--dry-run', '--settle-time', '200ms'], { as: staged });
      await waitUntil(async () => sampleValue(await served.metrics(), 'checkpoint_directory_readable') === 0, 'the directory is reported unreadable');
      const text = await served.metrics();
      expect(sampleValue(text, 'checkpoint_directory_present')).toBe(1);
      expect(sampleValue(text, 'checkpoint_scan_errors_total', { operation: 'watch' })).toBeGreaterThanOrEqual(1);
      // Still scraped: readiness keeps its meaning; the metric and its alert carry the signal.
      expect((await fetch(`${served.url}readyz`)).status).toBe(200);
      const status = (await (await fetch(`${served.url}api/v1/status`)).json()) as Status;
      expect(status.directory.state).toBe('unreadable');
      expect(status.directory.problem).toMatch(/EACCES/);
      expect(await (await fetch(served.url)).text()).toMatch(/UNREADABLE.*EACCES/);
      // What is logged about this directory (the pod checkpoint directory, absent here, has its own lines).
      const log = served
        .log()
        .split('\n')
        .filter((line) => line.includes(`"directory":${JSON.stringify(dir)}`))
        .join('\n');
      expect(log).toContain('exists but cannot be read');
      expect(log).not.toContain('does not exist');
      expect(log).not.toContain('waiting for it to appear');
      // Retried at every poll, logged once per cause.
      await waitUntil(async () => (sampleValue(await served.metrics(), 'checkpoint_scan_errors_total', { operation: 'watch' }) ?? 0) >= 3, 'retried');
      expect(served.log().split('exists but cannot be read').length - 1).toBe(1);

      await chmod(dir, 0o755);
      await waitUntil(async () => sampleValue(await served.metrics(), 'checkpoint_identified_archives') === 2, 'the archives are seen once it can be read', 20_000);
      expect(sampleValue(await served.metrics(), 'checkpoint_directory_readable')).toBe(1);
      expect(served.log()).toContain('readable again');
      expect((await readdir(dir)).sort()).toEqual([...archives].sort());
    } finally {
      await chmod(dir, 0o755);
    }
  }, 60_000);

  it('a missing directory is missing, in other words than an unreadable one', async () => {
    const dir = join(await directory(), 'not-yet');
    const served = await serve(['--checkpoint-dir', dir, '--settle-time', '200ms']);
    await waitUntil(async () => (await fetch(`${served.url}readyz`)).status === 200, 'ready');
    const text = await served.metrics();
    expect(sampleValue(text, 'checkpoint_directory_present')).toBe(0);
    expect(sampleValue(text, 'checkpoint_directory_readable')).toBe(1);
    const status = (await (await fetch(`${served.url}api/v1/status`)).json()) as Status;
    expect(status.directory.state).toBe('missing');
    expect(served.log()).toContain('does not exist');
    expect(served.log()).not.toContain('cannot be read');
  });
});

describe('events the kernel dropped', () => {
  const QUEUE_SETTING = '/proc/sys/fs/inotify/max_queued_events';

  it('after a real inotify queue overflow, the inventory is complete again within seconds', async () => {
    if (!needsRoot('the inotify overflow case')) return;
    const dir = await directory();
    const original = readFileSync(QUEUE_SETTING, 'utf8').trim();
    let served: ServedBinary;
    // The queue length is read when the inotify instance is made: lower it only while the exporter starts.
    writeFileSync(QUEUE_SETTING, '16');
    try {
      served = await serve(['--checkpoint-dir', dir, '--dry-run', '--settle-time', '200ms']);
      await waitUntil(async () => (await fetch(`${served.url}readyz`)).status === 200, 'ready with its watch live');
    } finally {
      writeFileSync(QUEUE_SETTING, original);
    }
    // Stopped, it reads no event: the burst overflows its 16-event queue.
    process.kill(served.pid, 'SIGSTOP');
    const burst: string[] = [];
    try {
      for (let i = 0; i < 200; i += 1) burst.push(await writeSampleArchive(dir, at(Date.parse('2026-03-01T00:00:00Z') + i * 60_000, `cart-${i}`)));
    } finally {
      process.kill(served.pid, 'SIGCONT');
    }
    // The default resync interval is 5 minutes: only the loss detection can make this in time.
    await waitUntil(async () => sampleValue(await served.metrics(), 'checkpoint_identified_archives') === burst.length, 'every archive of the burst is counted', 30_000);
    const text = await served.metrics();
    const healed = (sampleValue(text, 'checkpoint_inventory_resyncs_total', { reason: 'events_lost' }) ?? 0) + (sampleValue(text, 'checkpoint_inventory_resyncs_total', { reason: 'unreported_change' }) ?? 0);
    expect(healed).toBeGreaterThanOrEqual(1);
    expect(sampleValue(text, 'checkpoint_inventory_resyncs_total', { reason: 'periodic' })).toBe(0);
  }, 90_000);
});
