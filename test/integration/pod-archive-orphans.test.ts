import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { access, chmod, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeSamplePodArchive, type SamplePodArchiveOptions } from '../../src/demo/sample-pod-archives.js';
import { startFakeApiServer } from '../support/fake-apiserver.js';
import { sampleValue } from '../support/metrics-text.js';
import { runCli, serveBinary, type ServedBinary } from '../support/serve-binary.js';
import { waitUntil } from '../support/wait.js';

/**
 * Issue 20, on the built binary against the fake API server: orphaned pod-level archives (KEP-5823) go
 * under the policy's orphan rules, and name/object disagreements are counted on /metrics.
 */
const NODE = 'node-a';
const at = (pod: string, iso: string, overrides: Partial<SamplePodArchiveOptions> = {}): SamplePodArchiveOptions => ({
  namespace: 'default',
  pod,
  containers: ['nginx'],
  timestamp: new Date(iso),
  payloadBytes: 4096,
  ...overrides,
});
const location = (fileName: string) => ({ phase: 'Ready', checkpointLocation: { type: 'NodeLocal', path: `pod-checkpoints/${fileName}` } });

let root: string;
let counter = 0;
const running: ServedBinary[] = [];

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'pod-archive-orphans-'));
  await chmod(root, 0o755);
});
afterEach(async () => {
  for (const served of running.splice(0)) await served.stop();
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

async function directories(): Promise<{ containers: string; pods: string }> {
  const base = join(root, `node-${(counter += 1)}`);
  await mkdir(join(base, 'checkpoints'), { recursive: true });
  await mkdir(join(base, 'pod-checkpoints'));
  return { containers: join(base, 'checkpoints'), pods: join(base, 'pod-checkpoints') };
}

/** Lines of the log that plan a deletion of this archive as an orphan. */
const orphanPlans = (log: string, fileName: string): string[] => log.split('\n').filter((line) => line.includes(`"fileName":"${fileName}"`) && line.includes('"reason":"orphan"'));

describe('orphaned pod-level archives on the built binary', () => {
  it('retainOrphan false, 0s grace: an unreferenced archive of a deleted pod goes; a referenced one, one whose pod exists and one in a disagreement stay, and the disagreement is counted', async () => {
    const fake = await startFakeApiServer();
    try {
      fake.setPodCheckpointGroupServed(true);
      fake.upsertPod({ namespace: 'default', name: 'web-1', nodeName: NODE, containers: ['nginx'] });
      const { containers, pods } = await directories();
      const kubeconfig = join(root, `kubeconfig-${(counter += 1)}`);
      await writeFile(kubeconfig, fake.kubeconfigYaml());
      const config = join(root, `policy-${(counter += 1)}.yaml`);
      await writeFile(config, 'apiVersion: criu.org/v1\nkind: CheckpointRestoreOperator\nmetadata: {name: test}\nspec:\n  orphanGracePeriod: 0s\n  globalPolicy:\n    retainOrphan: false\n');
      // web-0 was deleted (the API answers 404 for it); web-1 runs on this node.
      const orphan = await writeSamplePodArchive(pods, at('web-0', '2026-03-01T00:00:00Z'));
      const referenced = await writeSamplePodArchive(pods, at('web-0', '2026-03-01T01:00:00Z'));
      const disputed = await writeSamplePodArchive(pods, at('web-0', '2026-03-01T02:00:00Z'));
      const podExists = await writeSamplePodArchive(pods, at('web-1', '2026-03-01T03:00:00Z'));
      fake.upsertPodCheckpoint('default', 'web-0-a', { sourcePodName: 'web-0' }, location(referenced));
      fake.upsertPodCheckpoint('default', 'web-9-b', { sourcePodName: 'web-9' }, location(disputed));

      const served = await serveBinary(['--checkpoint-dir', containers, '--pod-checkpoint-dir', pods, '--config', config, '--kubeconfig', kubeconfig, '--node-name', NODE, '--settle-time', '200ms']);
      running.push(served);
      // Objects known and the pod view healthy; then an arrival makes a run that sees both, if none has yet.
      await waitUntil(async () => {
        const text = await served.metrics();
        return sampleValue(text, 'checkpoint_kubernetes_api_up') === 1 && sampleValue(text, 'checkpoint_pod_archive_identity_conflicts') === 1;
      }, 'the pod view healthy and the PodCheckpoint objects known, with one disagreement counted');
      const arrival = await writeSamplePodArchive(pods, at('web-1', '2026-03-01T04:00:00Z'));
      await waitUntil(async () => sampleValue(await served.metrics(), 'checkpoint_retention_deletions_total', { namespace: 'default', reason: 'orphan' }) === 1, 'the orphan is deleted', 30_000);
      await expect(access(join(pods, orphan))).rejects.toThrow();

      // The run that took it saw the objects and the pods; it planned nothing else as an orphan.
      const log = served.log();
      expect(orphanPlans(log, orphan)).toHaveLength(1);
      expect(orphanPlans(log, orphan)[0]).toContain(`pod default/web-0 has been gone for`);
      expect(orphanPlans(log, orphan)[0]).toContain(`no PodCheckpoint object references ${orphan}`);
      for (const kept of [referenced, disputed, podExists, arrival]) expect(orphanPlans(log, kept)).toEqual([]);
      expect((await readdir(pods)).sort()).toEqual([referenced, disputed, podExists, arrival].sort());

      const text = await served.metrics();
      expect(sampleValue(text, 'checkpoint_pod_archive_identity_conflicts')).toBe(1);
      expect(text).toMatch(/# TYPE checkpoint_pod_archive_identity_conflicts gauge/);
      // The object now agrees with the name: no disagreement left.
      fake.upsertPodCheckpoint('default', 'web-9-b', { sourcePodName: 'web-0' }, location(disputed));
      await waitUntil(async () => sampleValue(await served.metrics(), 'checkpoint_pod_archive_identity_conflicts') === 0, 'the disagreement is gone from the gauge');
    } finally {
      await fake.close();
    }
  }, 90_000);

  it('plan shows the same: the orphan with a 0s grace (a one-shot plan\'s clock starts at the plan), none with a longer one, and the disagreement on stderr', async () => {
    const fake = await startFakeApiServer();
    try {
      fake.setPodCheckpointGroupServed(true);
      fake.upsertPod({ namespace: 'default', name: 'web-1', nodeName: NODE, containers: ['nginx'] });
      const { containers, pods } = await directories();
      const kubeconfig = join(root, `kubeconfig-${(counter += 1)}`);
      await writeFile(kubeconfig, fake.kubeconfigYaml());
      const policy = async (grace: string, extra = ''): Promise<string> => {
        const config = join(root, `policy-${(counter += 1)}.yaml`);
        await writeFile(config, `apiVersion: criu.org/v1\nkind: CheckpointRestoreOperator\nmetadata: {name: test}\nspec:\n  orphanGracePeriod: ${grace}\n  globalPolicy:\n    retainOrphan: false\n${extra}`);
        return config;
      };
      const orphan = await writeSamplePodArchive(pods, at('web-0', '2026-03-01T00:00:00Z'));
      const referenced = await writeSamplePodArchive(pods, at('web-0', '2026-03-01T01:00:00Z'));
      const disputed = await writeSamplePodArchive(pods, at('web-0', '2026-03-01T02:00:00Z'));
      const podExists = await writeSamplePodArchive(pods, at('web-1', '2026-03-01T03:00:00Z'));
      fake.upsertPodCheckpoint('default', 'web-0-a', { sourcePodName: 'web-0' }, location(referenced));
      fake.upsertPodCheckpoint('default', 'web-9-b', { sourcePodName: 'web-9' }, location(disputed));
      const plan = async (grace: string, extra = '') => {
        const run = await runCli(['plan', '--checkpoint-dir', containers, '--pod-checkpoint-dir', pods, '--config', await policy(grace, extra), '--kubeconfig', kubeconfig, '--node-name', NODE, '-o', 'json']);
        expect(run.code).toBe(0);
        const parsed = JSON.parse(run.stdout) as { podDeletions: Array<{ file: string; pod: string; container: string | null; reason: string; detail: string }> };
        return { deletions: parsed.podDeletions, stderr: run.stderr };
      };

      const now = await plan('0s');
      expect(now.deletions.map((d) => [d.file, d.pod, d.container, d.reason])).toEqual([[orphan, 'web-0', null, 'orphan']]);
      expect(now.deletions[0]?.detail).toContain(`no PodCheckpoint object references ${orphan}`);
      expect(now.stderr).toContain(`pod archive ${disputed} is named for pod default/web-0 but PodCheckpoint default/web-9-b points at it for pod default/web-9`);
      expect((await plan('10m')).deletions).toEqual([]);
      // As serve: the referenced archive counts and is kept, the disputed one is out of the pod's count.
      const limited = await plan('10m', '    maxCheckpointsPerPod: 1\n');
      expect(limited.deletions.map((d) => [d.file, d.reason])).toEqual([[orphan, 'count']]);
      expect((await readdir(pods)).sort()).toEqual([orphan, referenced, disputed, podExists].sort());
    } finally {
      await fake.close();
    }
  }, 90_000);

  it('where the group is not served, no pod archive is an orphan and the conflict gauge is absent', async () => {
    const fake = await startFakeApiServer();
    try {
      const { containers, pods } = await directories();
      const kubeconfig = join(root, `kubeconfig-${(counter += 1)}`);
      await writeFile(kubeconfig, fake.kubeconfigYaml());
      const config = join(root, `policy-${(counter += 1)}.yaml`);
      await writeFile(config, 'apiVersion: criu.org/v1\nkind: CheckpointRestoreOperator\nmetadata: {name: test}\nspec:\n  orphanGracePeriod: 0s\n  globalPolicy:\n    retainOrphan: false\n    maxCheckpointsPerPod: 1\n');
      const older = await writeSamplePodArchive(pods, at('web-0', '2026-03-01T00:00:00Z'));
      const newer = await writeSamplePodArchive(pods, at('web-0', '2026-03-01T01:00:00Z'));

      const served = await serveBinary(['--checkpoint-dir', containers, '--pod-checkpoint-dir', pods, '--config', config, '--kubeconfig', kubeconfig, '--node-name', NODE, '--settle-time', '200ms']);
      running.push(served);
      await waitUntil(() => fake.requests.some((r) => r.path.startsWith('/apis/checkpoint.k8s.io/')), 'the PodCheckpoint list is tried');
      await waitUntil(async () => sampleValue(await served.metrics(), 'checkpoint_kubernetes_api_up') === 1, 'the pod view is healthy');
      // The files alone decide: the counted limit takes the older archive, the pod being gone takes nothing.
      await waitUntil(async () => sampleValue(await served.metrics(), 'checkpoint_retention_deletions_total', { namespace: 'default', reason: 'count' }) === 1, 'the count limit deletes the older archive');
      expect(await readdir(pods)).toEqual([newer]);
      expect(orphanPlans(served.log(), older)).toEqual([]);
      expect(orphanPlans(served.log(), newer)).toEqual([]);
      expect(fake.requests.some((r) => r.path === '/api/v1/namespaces/default/pods/web-0')).toBe(false);
      expect(sampleValue(await served.metrics(), 'checkpoint_pod_archive_identity_conflicts')).toBeUndefined();
    } finally {
      await fake.close();
    }
  }, 90_000);
});
