import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readdir, rm, statfs, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { writeSampleArchive } from '../../src/demo/sample-archives.js';
import { writeSamplePodArchive } from '../../src/demo/sample-pod-archives.js';
import { canMountTmpfs } from '../support/binaries.js';
import { startFakeApiServer, type FakeApiServer } from '../support/fake-apiserver.js';
import { sampleValue } from '../support/metrics-text.js';
import { runCli, serveBinary, type ServedBinary } from '../support/serve-binary.js';
import { waitUntil } from '../support/wait.js';

/**
 * Issue 20 on the built binary and real 8 MiB tmpfs filesystems: disk pressure takes pod-level archives
 * (KEP-5823) with the container archives, oldest first, in one plan per filesystem, and keeps the pod
 * archives it must: pinned, referenced by a live PodCheckpoint object, the newest of each pod.
 */
const mountable = canMountTmpfs();
const KiB = 1024;
const T0 = Date.UTC(2026, 0, 28);
const NAMESPACE = 'shop';
const at = (minute: number): Date => new Date(T0 + minute * 60_000);

/** Used percentage as df computes it, from the same statfs the exporter reads. */
async function usedPercent(dir: string): Promise<number> {
  const s = await statfs(dir);
  const used = (s.blocks - s.bfree) * s.bsize;
  return (used / (used + s.bavail * s.bsize)) * 100;
}

const policy = (high: number, low: number): string =>
  [
    'apiVersion: criu.org/v1',
    'kind: CheckpointRestoreOperator',
    'metadata:',
    '  name: node-policy',
    'spec:',
    '  globalPolicy:',
    '    maxCheckpointsPerContainer: 0',
    '  diskPressure:',
    `    highThresholdPercent: ${high}`,
    `    lowThresholdPercent: ${low}`,
    '    keepNewestPerContainer: 1',
    '',
  ].join('\n');

/** About 650 KiB each, container or pod archive (a pod archive of one container). */
const container = (dir: string, name: string, minute: number): Promise<string> =>
  writeSampleArchive(dir, { namespace: NAMESPACE, pod: 'cart-0', container: name, timestamp: at(minute), runtime: 'cri-o', payloadBytes: 640 * KiB });
const pod = (dir: string, name: string, minute: number): Promise<string> =>
  writeSamplePodArchive(dir, { namespace: NAMESPACE, pod: name, containers: ['app'], timestamp: at(minute), runtime: 'cri-o', payloadBytes: 640 * KiB });

const pressureDeletions = async (served: ServedBinary): Promise<number> =>
  sampleValue(await served.metrics(), 'checkpoint_retention_deletions_total', { namespace: NAMESPACE, reason: 'disk_pressure' }) ?? 0;
const fullRuns = async (served: ServedBinary): Promise<number> => sampleValue(await served.metrics(), 'checkpoint_retention_runs_total', { kind: 'full' }) ?? 0;

interface StatusDeletion {
  readonly file: string;
  readonly pod: string | null;
  readonly container: string | null;
  readonly reason: string;
}

(mountable ? describe : describe.skip)('disk pressure takes pod-level archives, on the built binary and real tmpfs', () => {
  let root = '';
  const mounts: string[] = [];
  let served: ServedBinary | undefined;
  let fake: FakeApiServer | undefined;

  beforeAll(async () => {
    root = await mkdtemp(path.join(tmpdir(), 'pressure-pods-'));
  });
  afterEach(async () => {
    await served?.stop();
    served = undefined;
    await fake?.close();
    fake = undefined;
    for (const mountPoint of mounts.splice(0)) execFileSync('umount', [mountPoint]);
  });
  afterAll(async () => {
    if (root) await rm(root, { recursive: true, force: true });
  });

  async function mountTmpfs(name: string): Promise<string> {
    const mountPoint = path.join(root, name);
    await mkdir(mountPoint);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=8m', 'tmpfs', mountPoint]);
    mounts.push(mountPoint);
    return mountPoint;
  }

  it('one filesystem: the oldest pod archives go with the container archives until below the low mark; referenced, pinned and newest pod archives stay', async () => {
    const mountPoint = await mountTmpfs('node');
    const containers = path.join(mountPoint, 'checkpoints');
    const pods = path.join(mountPoint, 'pod-checkpoints');
    await mkdir(containers);
    await mkdir(pods);
    // 11 archives of about 650 KiB, about 87 % of 8 MiB, alternating between the directories by age.
    const referenced = await pod(pods, 'web-0', 0);
    const pinned = await pod(pods, 'web-0', 1);
    await writeFile(path.join(pods, `${pinned}.keep`), '{}');
    const api = [await container(containers, 'api', 2), await container(containers, 'api', 4), await container(containers, 'api', 6), await container(containers, 'api', 8), await container(containers, 'api', 10)];
    const web = [await pod(pods, 'web-0', 3), await pod(pods, 'web-0', 5), await pod(pods, 'web-0', 9)];
    const worker = await container(containers, 'worker', 11);
    expect(await usedPercent(mountPoint)).toBeGreaterThan(85);

    fake = await startFakeApiServer();
    fake.setPodCheckpointGroupServed(true);
    fake.upsertPodCheckpoint(NAMESPACE, 'web-0-warm', { sourcePodName: 'web-0' }, { phase: 'Ready', checkpointLocation: { type: 'NodeLocal', path: `pod-checkpoints/${referenced}` } });
    const kubeconfig = path.join(root, 'kubeconfig');
    await writeFile(kubeconfig, fake.kubeconfigYaml());
    const config = path.join(root, 'policy.yaml');
    await writeFile(config, policy(85, 60));
    served = await serveBinary(['--checkpoint-dir', containers, '--pod-checkpoint-dir', pods, '--config', config, '--kubeconfig', kubeconfig, '--settle-time', '100ms', '--resync-interval', '1s']);
    const exporter = served;

    await waitUntil(async () => (await usedPercent(mountPoint)) < 60, 'usage below the low mark', 60_000);
    // Nothing more once below the low mark: three more full runs delete nothing.
    const deleted = await pressureDeletions(exporter);
    const runs = await fullRuns(exporter);
    await waitUntil(async () => (await fullRuns(exporter)) >= runs + 3, 'three more full runs', 30_000);
    expect(await pressureDeletions(exporter)).toBe(deleted);

    // Oldest first across both directories, skipping what must stay: api@2, web@3, api@4, web@5, api@6, api@8.
    const takeable = [api[0]!, web[0]!, api[1]!, web[1]!, api[2]!, api[3]!];
    const left = new Set([...(await readdir(containers)), ...(await readdir(pods))]);
    const gone = takeable.filter((fileName) => !left.has(fileName));
    expect(gone).toEqual(takeable.slice(0, deleted));
    // 8 archives left are above 60 % of 8 MiB: at least four went, two of them pod archives.
    expect(deleted).toBeGreaterThanOrEqual(4);
    expect(gone).toEqual(expect.arrayContaining([web[0]!, web[1]!]));
    process.stderr.write(`one filesystem: ${deleted} archives taken by disk pressure (${gone.filter((f) => web.includes(f)).length} pod-level), usage now ${(await usedPercent(mountPoint)).toFixed(1)} %\n`);
    for (const fileName of [referenced, pinned, web[2]!, api[4]!, worker]) expect(left.has(fileName)).toBe(true);

    // The run's record shows the pod archives' deletions like the container archives', with no container.
    const status = (await (await fetch(`${exporter.url}api/v1/status`)).json()) as { retention: { recentDeletions: StatusDeletion[] } };
    const podDeletion = status.retention.recentDeletions.find((d) => d.file === web[0]);
    expect(podDeletion).toMatchObject({ pod: 'web-0', container: null, reason: 'disk_pressure' });
    expect(status.retention.recentDeletions.filter((d) => d.reason === 'disk_pressure')).toHaveLength(deleted);
    const text = await exporter.metrics();
    expect(sampleValue(text, 'checkpoint_retention_errors_total', { operation: 'verify' })).toBe(0);
    expect(sampleValue(text, 'checkpoint_retention_errors_total', { operation: 'unlink' })).toBe(0);
    expect(exporter.log()).toContain("the pod checkpoint directory is on the checkpoint directory's filesystem");
  }, 120_000);

  it('plan shows the same plan: pod-level disk-pressure deletions after the containers\', in one age order with them, and deletes nothing', async () => {
    const mountPoint = await mountTmpfs('plan');
    const containers = path.join(mountPoint, 'checkpoints');
    const pods = path.join(mountPoint, 'pod-checkpoints');
    await mkdir(containers);
    await mkdir(pods);
    const pinned = await pod(pods, 'web-0', 0);
    await writeFile(path.join(pods, `${pinned}.keep`), '{}');
    const web = [await pod(pods, 'web-0', 1), await pod(pods, 'web-0', 3), await pod(pods, 'web-0', 5), await pod(pods, 'web-0', 9)];
    const api = [await container(containers, 'api', 2), await container(containers, 'api', 4), await container(containers, 'api', 6), await container(containers, 'api', 8), await container(containers, 'api', 10)];
    await container(containers, 'worker', 11);
    expect(await usedPercent(mountPoint)).toBeGreaterThan(85);
    const config = path.join(root, 'policy-plan.yaml');
    await writeFile(config, policy(85, 60));
    const before = [...(await readdir(containers)), ...(await readdir(pods))].sort();

    const run = await runCli(['plan', '--checkpoint-dir', containers, '--pod-checkpoint-dir', pods, '--config', config, '-o', 'json']);
    expect(run.code).toBe(0);
    const plan = JSON.parse(run.stdout) as { deletions: { file: string; reason: string }[]; podDeletions: { file: string; reason: string; container: null }[] };
    const planned = new Set([...plan.deletions, ...plan.podDeletions].map((d) => d.file));
    // Oldest first across both directories, the pinned and the newest of each kept: web@1, api@2, web@3, api@4, ...
    const takeable = [web[0]!, api[0]!, web[1]!, api[1]!, web[2]!, api[2]!, api[3]!];
    expect(planned.size).toBeGreaterThanOrEqual(4);
    expect([...planned].sort()).toEqual(takeable.slice(0, planned.size).sort());
    expect(plan.podDeletions.map((d) => d.file)).toEqual(takeable.slice(0, planned.size).filter((f) => web.includes(f)));
    expect([...plan.deletions, ...plan.podDeletions].every((d) => d.reason === 'disk_pressure')).toBe(true);
    expect(plan.podDeletions.every((d) => d.container === null)).toBe(true);
    expect([...(await readdir(containers)), ...(await readdir(pods))].sort()).toEqual(before);
    // The text form lists the pod-level ones under their own heading.
    const text = await runCli(['plan', '--checkpoint-dir', containers, '--pod-checkpoint-dir', pods, '--config', config]);
    expect(text.stdout.split(`pod-level archives in ${pods}:`)[1]).toContain(web[0]!);
  }, 120_000);

  it('another filesystem: the pod archives get a plan of their own against it, and the container archives are left alone', async () => {
    const containerMount = await mountTmpfs('containers');
    const podMount = await mountTmpfs('pods');
    // The container filesystem is not under pressure (4 archives, about 32 %), the pod one is (11, about 87 %).
    const api = [];
    for (const minute of [0, 1, 2, 3]) api.push(await container(containerMount, 'api', minute));
    const pinned = await pod(podMount, 'web-0', 4);
    await writeFile(path.join(podMount, `${pinned}.keep`), '{}');
    const web0 = [];
    for (const minute of [5, 7, 9, 11, 13]) web0.push(await pod(podMount, 'web-0', minute));
    const web1 = [];
    for (const minute of [6, 8, 10, 12, 14]) web1.push(await pod(podMount, 'web-1', minute));
    expect(await usedPercent(containerMount)).toBeLessThan(85);
    expect(await usedPercent(podMount)).toBeGreaterThan(85);

    const config = path.join(root, 'policy-apart.yaml');
    await writeFile(config, policy(85, 60));
    served = await serveBinary(['--checkpoint-dir', containerMount, '--pod-checkpoint-dir', podMount, '--config', config, '--settle-time', '100ms']);
    const exporter = served;

    await waitUntil(async () => (await usedPercent(podMount)) < 60, 'the pod filesystem below the low mark', 60_000);
    const deleted = await pressureDeletions(exporter);
    // Oldest first over both pods, the pin and each pod's newest kept.
    const takeable = [web0[0]!, web1[0]!, web0[1]!, web1[1]!, web0[2]!, web1[2]!, web0[3]!, web1[3]!];
    const left = new Set(await readdir(podMount));
    expect(takeable.filter((fileName) => !left.has(fileName))).toEqual(takeable.slice(0, deleted));
    expect(deleted).toBeGreaterThanOrEqual(4);
    for (const fileName of [pinned, web0[4]!, web1[4]!]) expect(left.has(fileName)).toBe(true);
    expect((await readdir(containerMount)).sort()).toEqual([...api].sort());
    // Each unlink is logged with the plan's detail, which names the filesystem it was planned against.
    const unlinks = exporter.log().split('\n').filter((line) => line.includes('retention: deleted archive'));
    expect(unlinks).toHaveLength(deleted);
    for (const line of unlinks) expect(line).toMatch(/"detail":"pod checkpoint directory's filesystem is \d+\.\d% used, above the 85% high mark/);
    expect(exporter.log()).toContain('the pod checkpoint directory is on another filesystem than the checkpoint directory');
  }, 120_000);
});
