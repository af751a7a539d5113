import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { access, chmod, mkdir, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeSampleArchive } from '../../src/demo/sample-archives.js';
import { writeSamplePodArchive, type SamplePodArchiveOptions } from '../../src/demo/sample-pod-archives.js';
import { sampleValue } from '../support/metrics-text.js';
import { runCli, serveBinary, type ServedBinary } from '../support/serve-binary.js';
import { stageForUser, type StagedUser } from '../support/stage-for-user.js';
import { startFakeApiServer } from '../support/fake-apiserver.js';
import { waitUntil } from '../support/wait.js';

/**
 * Issue 20, on the built binary: the pod checkpoint directory (KEP-5823) is a second inventory with the
 * container directory's rules, in metric families of its own.
 */
const POD = { namespace: 'default', pod: 'web-0', containers: ['nginx', 'log-shipper'] } as const;
const at = (iso: string, overrides: Partial<SamplePodArchiveOptions> = {}): SamplePodArchiveOptions => ({ ...POD, timestamp: new Date(iso), payloadBytes: 4096, ...overrides });

const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;

let root: string;
let counter = 0;
const running: ServedBinary[] = [];
let staged: StagedUser | undefined;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'pod-checkpoints-'));
  await chmod(root, 0o755);
});
afterEach(async () => {
  for (const served of running.splice(0)) await served.stop();
});
afterAll(async () => {
  await staged?.remove();
  await rm(root, { recursive: true, force: true });
});

/** A container directory and a pod directory, side by side. */
async function directories(): Promise<{ containers: string; pods: string }> {
  const base = join(root, `node-${(counter += 1)}`);
  await mkdir(join(base, 'checkpoints'), { recursive: true });
  await mkdir(join(base, 'pod-checkpoints'));
  await chmod(base, 0o755);
  return { containers: join(base, 'checkpoints'), pods: join(base, 'pod-checkpoints') };
}

async function serve(args: string[], options: { as?: StagedUser } = {}): Promise<ServedBinary> {
  const served = await serveBinary(args, options);
  running.push(served);
  return served;
}

const labels = { namespace: POD.namespace, pod: POD.pod };

describe('pod-level archives on the built binary', () => {
  it('fresh start: counts, bytes, oldest and newest, composition and pins per pod, apart from container archives', async () => {
    const { containers, pods } = await directories();
    const older = await writeSamplePodArchive(pods, at('2026-03-01T00:00:00Z'));
    const newer = await writeSamplePodArchive(pods, at('2026-03-01T02:00:00Z'));
    const other = await writeSamplePodArchive(pods, at('2026-03-01T01:00:00Z', { namespace: 'shop-prod', pod: 'cart-0', containers: ['cart-api'] }));
    await writeFile(join(pods, `${older}.keep`), '{}');
    await writeFile(join(pods, 'notes.txt'), 'not an archive');
    // A container archive's name in the pod directory is not a pod archive: `shop-api` is read as a namespace only if the name has no container part.
    await writeSampleArchive(containers, { namespace: 'shop', pod: 'api-0', container: 'api', timestamp: new Date('2026-03-01T00:00:00Z'), runtime: 'cri-o', payloadBytes: 256 });

    const served = await serve(['--checkpoint-dir', containers, '--pod-checkpoint-dir', pods, '--dry-run', '--settle-time', '200ms']);
    await waitUntil(async () => sampleValue(await served.metrics(), 'checkpoint_pod_archives', labels) === 2, 'both archives of the pod are counted');
    await waitUntil(async () => sampleValue(await served.metrics(), 'checkpoint_pod_archives', { namespace: 'shop-prod', pod: 'cart-0' }) === 1, 'the other pod is counted');
    const text = await served.metrics();
    const sizeOf = async (name: string): Promise<number> => (await stat(join(pods, name))).size;
    const bytes = (await sizeOf(older)) + (await sizeOf(newer));
    expect(sampleValue(text, 'checkpoint_pod_archive_bytes', labels)).toBe(bytes);
    expect(sampleValue(text, 'checkpoint_pod_archive_oldest_timestamp_seconds', labels)).toBe(Date.parse('2026-03-01T00:00:00Z') / 1000);
    expect(sampleValue(text, 'checkpoint_pod_archive_newest_timestamp_seconds', labels)).toBe(Date.parse('2026-03-01T02:00:00Z') / 1000);
    expect(sampleValue(text, 'checkpoint_pod_archives_pinned', labels)).toBe(1);
    expect(sampleValue(text, 'checkpoint_pod_archives_pinned', { namespace: 'shop-prod', pod: 'cart-0' })).toBeUndefined();
    // Two containers, 4 KiB of pages each, per archive; the parts of a plain tar sum to its size.
    expect(sampleValue(text, 'checkpoint_pod_archive_content_bytes', { ...labels, part: 'memory' })).toBe(2 * 2 * 4096);
    const parts = ['memory', 'checkpoint_other', 'rootfs_diff', 'other'].map((part) => sampleValue(text, 'checkpoint_pod_archive_content_bytes', { ...labels, part }) ?? NaN);
    expect(parts.reduce((a, b) => a + b, 0)).toBe(bytes);
    expect(sampleValue(text, 'checkpoint_pod_archives_total_bytes')).toBe(bytes + (await sizeOf(other)));
    expect(sampleValue(text, 'checkpoint_pod_unrecognized_files')).toBe(1);
    expect(sampleValue(text, 'checkpoint_pod_directory_present')).toBe(1);
    expect(sampleValue(text, 'checkpoint_pod_directory_readable')).toBe(1);
    // The container directory's families count its own archive only.
    await waitUntil(async () => sampleValue(await served.metrics(), 'checkpoint_identified_archives') === 1, 'the container archive is counted');
    expect(sampleValue(await served.metrics(), 'checkpoint_archives', labels)).toBeUndefined();
    expect(sampleValue(await served.metrics(), 'checkpoint_exporter_collector_success', { collector: 'pod_archives' })).toBe(1);
  }, 60_000);

  it('arrivals: an archive written while it runs is counted once it settled; one removed is gone', async () => {
    const { containers, pods } = await directories();
    const first = await writeSamplePodArchive(pods, at('2026-03-01T00:00:00Z'));
    const served = await serve(['--checkpoint-dir', containers, '--pod-checkpoint-dir', pods, '--dry-run', '--settle-time', '200ms']);
    await waitUntil(async () => sampleValue(await served.metrics(), 'checkpoint_pod_archives', labels) === 1, 'the first archive is counted');
    await writeSamplePodArchive(pods, at('2026-03-01T03:00:00Z'));
    await waitUntil(async () => sampleValue(await served.metrics(), 'checkpoint_pod_archives', labels) === 2, 'the arrival is counted');
    expect(sampleValue(await served.metrics(), 'checkpoint_pod_archive_newest_timestamp_seconds', labels)).toBe(Date.parse('2026-03-01T03:00:00Z') / 1000);
    await rm(join(pods, first));
    await waitUntil(async () => sampleValue(await served.metrics(), 'checkpoint_pod_archives', labels) === 1, 'the removal is seen');
    expect(sampleValue(await served.metrics(), 'checkpoint_pod_archive_oldest_timestamp_seconds', labels)).toBe(Date.parse('2026-03-01T03:00:00Z') / 1000);
  }, 60_000);

  it('a missing pod directory is normal: present 0, readable 1, said at info, and archives are counted once it appears', async () => {
    const { containers, pods } = await directories();
    const absent = join(pods, 'not-yet');
    const served = await serve(['--checkpoint-dir', containers, '--pod-checkpoint-dir', absent, '--settle-time', '200ms']);
    await waitUntil(async () => (await fetch(`${served.url}readyz`)).status === 200, 'ready');
    await waitUntil(async () => served.log().includes(absent), 'the missing directory is logged');
    const text = await served.metrics();
    expect(sampleValue(text, 'checkpoint_pod_directory_present')).toBe(0);
    expect(sampleValue(text, 'checkpoint_pod_directory_readable')).toBe(1);
    expect(sampleValue(text, 'checkpoint_directory_present')).toBe(1);
    const lines = served.log().split('\n').filter((line) => line.includes(absent));
    expect(lines.length).toBeGreaterThan(0);
    // Info (30), never warn (40) or error (50): the kubelet's gate is off, nothing is wrong.
    for (const line of lines) expect((JSON.parse(line) as { level: number }).level).toBe(30);

    await mkdir(absent);
    await writeSamplePodArchive(absent, at('2026-03-01T00:00:00Z'));
    await waitUntil(async () => sampleValue(await served.metrics(), 'checkpoint_pod_archives', labels) === 1, 'the archive is counted once the directory appears', 30_000);
    expect(sampleValue(await served.metrics(), 'checkpoint_pod_directory_present')).toBe(1);
  }, 60_000);

  it('an unreadable pod directory is a signal: readable 0 while present, and archives are seen once it can be read', async () => {
    if (!isRoot) {
      if (process.env['CI'] === 'true') throw new Error('the unreadable pod directory case needs root; CI runs as root');
      process.stderr.write('\n*** SKIPPING the unreadable pod directory case: not root ***\n\n');
      return;
    }
    staged ??= await stageForUser();
    const { containers, pods } = await directories();
    await writeSamplePodArchive(pods, at('2026-03-01T00:00:00Z'));
    await chmod(pods, 0o000);
    try {
      const served = await serve(['--checkpoint-dir', containers, '--pod-checkpoint-dir', pods, '--dry-run', '--settle-time', '200ms'], { as: staged });
      await waitUntil(async () => sampleValue(await served.metrics(), 'checkpoint_pod_directory_readable') === 0, 'the pod directory is reported unreadable');
      const text = await served.metrics();
      expect(sampleValue(text, 'checkpoint_pod_directory_present')).toBe(1);
      expect(sampleValue(text, 'checkpoint_directory_readable')).toBe(1);
      expect(served.log()).toContain('exists but cannot be read');
      await chmod(pods, 0o755);
      await waitUntil(async () => sampleValue(await served.metrics(), 'checkpoint_pod_archives', labels) === 1, 'the archive is seen once it can be read', 30_000);
      expect(sampleValue(await served.metrics(), 'checkpoint_pod_directory_readable')).toBe(1);
    } finally {
      await chmod(pods, 0o755);
    }
  }, 60_000);

  it('limits: maxCheckpointsPerPod bounds each pod\'s pod-level archives, oldest first, apart from its container archives; a pin is kept and counted', async () => {
    const { containers, pods } = await directories();
    const config = join(root, `policy-${(counter += 1)}.yaml`);
    await writeFile(config, 'apiVersion: criu.org/v1\nkind: CheckpointRestoreOperator\nmetadata: {name: test}\nspec:\n  globalPolicy:\n    maxCheckpointsPerPod: 2\n');
    const oldest = await writeSamplePodArchive(pods, at('2026-03-01T00:00:00Z'));
    const middle = await writeSamplePodArchive(pods, at('2026-03-01T01:00:00Z'));
    const newest = await writeSamplePodArchive(pods, at('2026-03-01T02:00:00Z'));
    const other = [
      await writeSamplePodArchive(pods, at('2026-03-01T00:00:00Z', { pod: 'web-1' })),
      await writeSamplePodArchive(pods, at('2026-03-01T01:00:00Z', { pod: 'web-1' })),
    ];
    // Two container archives of the same pod: within the per-pod limit on their own side.
    const containerArchives = [
      await writeSampleArchive(containers, { namespace: POD.namespace, pod: POD.pod, container: 'nginx', timestamp: new Date('2026-03-01T00:30:00Z'), runtime: 'cri-o', payloadBytes: 256 }),
      await writeSampleArchive(containers, { namespace: POD.namespace, pod: POD.pod, container: 'nginx', timestamp: new Date('2026-03-01T01:30:00Z'), runtime: 'cri-o', payloadBytes: 256 }),
    ];
    await writeFile(join(pods, `${oldest}.keep`), '{}');

    const served = await serve(['--checkpoint-dir', containers, '--pod-checkpoint-dir', pods, '--config', config, '--settle-time', '200ms']);
    await waitUntil(async () => (sampleValue(await served.metrics(), 'checkpoint_retention_deletions_total', { namespace: POD.namespace, reason: 'count' }) ?? 0) >= 1, 'a pod archive is deleted by the count limit');
    // The pinned oldest is kept and counts: the middle one goes.
    await waitUntil(async () => sampleValue(await served.metrics(), 'checkpoint_pod_archives', labels) === 2, 'the pod is within its limit');
    expect((await readdir(pods)).sort()).toEqual([oldest, `${oldest}.keep`, newest, ...other].sort());
    await expect(access(join(pods, middle))).rejects.toThrow();
    expect((await readdir(containers)).sort()).toEqual([...containerArchives].sort());
    expect(sampleValue(await served.metrics(), 'checkpoint_retention_deletions_total', { namespace: POD.namespace, reason: 'count' })).toBe(1);
    expect(served.log()).toContain(middle);
  }, 60_000);

  it('dry run: the pod-level deletion is logged and nothing is unlinked', async () => {
    const { containers, pods } = await directories();
    const config = join(root, `policy-${(counter += 1)}.yaml`);
    await writeFile(config, 'apiVersion: criu.org/v1\nkind: CheckpointRestoreOperator\nmetadata: {name: test}\nspec:\n  globalPolicy:\n    maxCheckpointsPerPod: 1\n');
    const written = [await writeSamplePodArchive(pods, at('2026-03-01T00:00:00Z')), await writeSamplePodArchive(pods, at('2026-03-01T01:00:00Z'))];
    const served = await serve(['--checkpoint-dir', containers, '--pod-checkpoint-dir', pods, '--config', config, '--dry-run', '--settle-time', '200ms']);
    await waitUntil(async () => served.log().includes(`"fileName":"${written[0]}"`), 'the planned deletion is logged');
    expect((await readdir(pods)).sort()).toEqual([...written].sort());
    expect(sampleValue(await served.metrics(), 'checkpoint_pod_archives', labels)).toBe(2);
  }, 60_000);

  it('ls lists pod-level archives per pod after the containers\', in text and in JSON; a missing pod directory is left out', async () => {
    const { containers, pods } = await directories();
    const older = await writeSamplePodArchive(pods, at('2026-03-01T00:00:00Z'));
    const newer = await writeSamplePodArchive(pods, at('2026-03-01T02:00:00Z'));
    await writeFile(join(pods, `${older}.keep`), '{}');
    const text = await runCli(['ls', '--checkpoint-dir', containers, '--pod-checkpoint-dir', pods]);
    expect(text.code).toBe(0);
    expect(text.stdout).toContain(`pod-level archives in ${pods}:`);
    expect(text.stdout).toMatch(/^default\s+web-0\s+2\s+1\s+/m);
    const json = await runCli(['ls', '--checkpoint-dir', containers, '--pod-checkpoint-dir', pods, '-o', 'json']);
    const parsed = JSON.parse(json.stdout) as { podArchives: Array<{ fileName: string; namespace: string; pod: string; pinned: boolean; bytes: number }> };
    expect(parsed.podArchives.map((a) => [a.fileName, a.namespace, a.pod, a.pinned])).toEqual([
      [older, 'default', 'web-0', true],
      [newer, 'default', 'web-0', false],
    ]);
    expect(parsed.podArchives[0]?.bytes).toBe((await stat(join(pods, older))).size);
    const missing = await runCli(['ls', '--checkpoint-dir', containers, '--pod-checkpoint-dir', join(pods, 'absent')]);
    expect(missing.code).toBe(0);
    expect(missing.stdout).not.toContain('pod-level archives');
  }, 60_000);

  it('plan shows the pod-level deletions after the containers\', in text and in JSON, and deletes nothing', async () => {
    const { containers, pods } = await directories();
    const config = join(root, `policy-${(counter += 1)}.yaml`);
    await writeFile(config, 'apiVersion: criu.org/v1\nkind: CheckpointRestoreOperator\nmetadata: {name: test}\nspec:\n  globalPolicy:\n    maxCheckpointsPerPod: 1\n');
    const written = [await writeSamplePodArchive(pods, at('2026-03-01T00:00:00Z')), await writeSamplePodArchive(pods, at('2026-03-01T01:00:00Z'))];
    const text = await runCli(['plan', '--checkpoint-dir', containers, '--pod-checkpoint-dir', pods, '--config', config]);
    expect(text.code).toBe(0);
    expect(text.stdout).toContain(`pod-level archives in ${pods}:`);
    expect(text.stdout).toMatch(new RegExp(`^${written[0]!.replace(/[.+]/g, '\\$&')}\\s+default/web-0\\s+.*\\bcount\\b`, 'm'));
    expect(text.stdout).not.toContain(written[1]!);
    const json = await runCli(['plan', '--checkpoint-dir', containers, '--pod-checkpoint-dir', pods, '--config', config, '-o', 'json']);
    const parsed = JSON.parse(json.stdout) as { deletions: unknown[]; podDeletions: Array<{ file: string; pod: string; container: string | null; reason: string }> };
    expect(parsed.deletions).toEqual([]);
    expect(parsed.podDeletions.map((d) => [d.file, d.pod, d.container, d.reason])).toEqual([[written[0], 'web-0', null, 'count']]);
    expect((await readdir(pods)).sort()).toEqual([...written].sort());
  }, 60_000);

  it('inspect reads a pod-level archive as one: identity from the name, pin, composition, each container\'s bytes and the pod scope\'s verdict', async () => {
    const { pods } = await directories();
    const config = join(root, `policy-${(counter += 1)}.yaml`);
    await writeFile(config, 'apiVersion: criu.org/v1\nkind: CheckpointRestoreOperator\nmetadata: {name: test}\nspec:\n  globalPolicy:\n    maxCheckpointsPerPod: 1\n');
    const older = await writeSamplePodArchive(pods, at('2026-03-01T00:00:00Z'));
    const newer = await writeSamplePodArchive(pods, at('2026-03-01T01:00:00Z'));
    await writeFile(join(pods, `${newer}.keep`), '{}');
    const text = await runCli(['inspect', join(pods, older), '--config', config]);
    expect(text.code).toBe(0);
    expect(text.stdout).toContain('kind:      pod-level checkpoint (KEP-5823)');
    expect(text.stdout).toMatch(/^retention: would be deleted \(count\)/m);
    // Made from the files alone, and it says so: a PodCheckpoint object could keep this archive.
    expect(text.stdout).toMatch(/^ {11}by .+ and the files alone: PodCheckpoint objects not consulted .*; nothing is deleted$/m);
    expect(text.stdout).toMatch(/^\s+nginx\s+/m);
    const json = await runCli(['inspect', join(pods, newer), '--config', config, '-o', 'json']);
    const parsed = JSON.parse(json.stdout) as { kind: string; namespace: string; pod: string; pinned: boolean; contents: { memoryBytes: number }; containers: Record<string, number>; retention: { action: string; podCheckpointObjects: string } };
    expect([parsed.kind, parsed.namespace, parsed.pod, parsed.pinned, parsed.retention.action, parsed.retention.podCheckpointObjects]).toEqual(['pod', 'default', 'web-0', true, 'keep', 'not consulted']);
    expect(parsed.contents.memoryBytes).toBe(2 * 4096);
    expect(Object.keys(parsed.containers).sort()).toEqual(['log-shipper', 'nginx']);
    // A name that is both a container's and a pod's is a pod archive in the pod checkpoint directory.
    const both = await writeSamplePodArchive(pods, at('2026-03-01T02:00:00Z', { namespace: 'shop-prod' }));
    const ambiguous = JSON.parse((await runCli(['inspect', join(pods, both), '-o', 'json'])).stdout) as { kind: string; namespace: string };
    expect([ambiguous.kind, ambiguous.namespace]).toEqual(['pod', 'shop-prod']);
  }, 60_000);

  it('PodCheckpoint objects: an archive one references is kept beyond the pod limit, one without an object is orphaned; the group\'s 404 is quiet', async () => {
    const fake = await startFakeApiServer();
    try {
      const { containers, pods } = await directories();
      const kubeconfig = join(root, `kubeconfig-${(counter += 1)}`);
      await writeFile(kubeconfig, fake.kubeconfigYaml());
      const config = join(root, `policy-${(counter += 1)}.yaml`);
      await writeFile(config, 'apiVersion: criu.org/v1\nkind: CheckpointRestoreOperator\nmetadata: {name: test}\nspec:\n  globalPolicy:\n    maxCheckpointsPerPod: 2\n');
      const oldest = await writeSamplePodArchive(pods, at('2026-03-01T00:00:00Z'));
      const middle = await writeSamplePodArchive(pods, at('2026-03-01T01:00:00Z'));
      const newest = await writeSamplePodArchive(pods, at('2026-03-01T02:00:00Z'));
      fake.upsertPodCheckpoint(POD.namespace, 'web-0-warm', { sourcePodName: POD.pod }, { phase: 'Ready', checkpointLocation: { type: 'NodeLocal', path: `pod-checkpoints/${oldest}` } });

      // The group not served yet (the gate off): files alone decide, quietly.
      const args = ['--checkpoint-dir', containers, '--pod-checkpoint-dir', pods, '--config', config, '--kubeconfig', kubeconfig, '--settle-time', '200ms', '--dry-run'];
      const quiet = await serve(args);
      await waitUntil(() => fake.requests.some((r) => r.path.startsWith('/apis/checkpoint.k8s.io/')), 'the PodCheckpoint list is tried');
      await waitUntil(async () => served(quiet.log(), oldest), 'the oldest is planned for deletion from the files alone');
      expect(quiet.log()).not.toMatch(/podcheckpoints[^\n]*"level":(40|50)|"level":(40|50)[^\n]*podcheckpoints/);
      expect(sampleValue(await quiet.metrics(), 'checkpoint_pod_archives_orphaned', labels)).toBeUndefined();
      await quiet.stop();

      fake.setPodCheckpointGroupServed(true);
      const watching = await serve(args.filter((arg) => arg !== '--dry-run'));
      await waitUntil(async () => sampleValue(await watching.metrics(), 'checkpoint_pod_archives', labels) === 2, 'the pod is within its limit, the referenced archive kept');
      expect((await readdir(pods)).sort()).toEqual([oldest, newest].sort());
      await expect(access(join(pods, middle))).rejects.toThrow();
      const text = await watching.metrics();
      expect(sampleValue(text, 'checkpoint_pod_archives_referenced', labels)).toBe(1);
      expect(sampleValue(text, 'checkpoint_pod_archives_orphaned', labels)).toBe(1);
    } finally {
      await fake.close();
    }
  }, 90_000);

  it('deleteReferencedPodCheckpoints: true lets the pod limit take a referenced archive; one whose object names another pod is kept and reported once', async () => {
    const fake = await startFakeApiServer();
    try {
      fake.setPodCheckpointGroupServed(true);
      const { containers, pods } = await directories();
      const kubeconfig = join(root, `kubeconfig-${(counter += 1)}`);
      await writeFile(kubeconfig, fake.kubeconfigYaml());
      const config = join(root, `policy-${(counter += 1)}.yaml`);
      await writeFile(config, 'apiVersion: criu.org/v1\nkind: CheckpointRestoreOperator\nmetadata: {name: test}\nspec:\n  globalPolicy:\n    maxCheckpointsPerPod: 1\n    deleteReferencedPodCheckpoints: true\n');
      const referenced = await writeSamplePodArchive(pods, at('2026-03-01T00:00:00Z'));
      const disputed = await writeSamplePodArchive(pods, at('2026-03-01T01:00:00Z'));
      const plain = await writeSamplePodArchive(pods, at('2026-03-01T02:00:00Z'));
      const newest = await writeSamplePodArchive(pods, at('2026-03-01T03:00:00Z'));
      fake.upsertPodCheckpoint(POD.namespace, 'web-0-a', { sourcePodName: POD.pod }, { phase: 'Ready', checkpointLocation: { type: 'NodeLocal', path: `pod-checkpoints/${referenced}` } });
      fake.upsertPodCheckpoint(POD.namespace, 'web-9-b', { sourcePodName: 'web-9' }, { phase: 'Ready', checkpointLocation: { type: 'NodeLocal', path: `pod-checkpoints/${disputed}` } });

      const running = await serve(['--checkpoint-dir', containers, '--pod-checkpoint-dir', pods, '--config', config, '--kubeconfig', kubeconfig, '--settle-time', '200ms']);
      const policy = (await (await fetch(`${running.url}api/v1/policy`)).json()) as { effective: { globalPolicy: Record<string, unknown> } };
      expect(policy.effective.globalPolicy['deleteReferencedPodCheckpoints']).toMatchObject({ value: true });
      await waitUntil(async () => (await readdir(pods)).length === 2, 'the referenced and the plain archive are deleted');
      expect((await readdir(pods)).sort()).toEqual([disputed, newest].sort());
      // A later run (an archive arrives and takes the limit) does not say it again while it lasts.
      const later = await writeSamplePodArchive(pods, at('2026-03-01T04:00:00Z'));
      await waitUntil(async () => !(await readdir(pods)).includes(newest), 'the next run takes the previous newest');
      expect((await readdir(pods)).sort()).toEqual([disputed, later].sort());
      const warnings = running.log().split('\n').filter((line) => line.includes(`pod archive ${disputed} is named for pod default/web-0 but PodCheckpoint default/web-9-b points at it for pod default/web-9`));
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toContain('"level":40');
    } finally {
      await fake.close();
    }
  }, 90_000);
});

/** A dry-run deletion of this archive was logged. */
function served(log: string, fileName: string): boolean {
  return log.includes(`"fileName":"${fileName}"`);
}
