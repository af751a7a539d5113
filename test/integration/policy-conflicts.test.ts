import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeSampleArchive } from '../../src/demo/sample-archives.js';
import { startFakeApiServer, type FakeApiServer } from '../support/fake-apiserver.js';
import { sampleValue } from '../support/metrics-text.js';
import { MAIN, runCli, serveBinary } from '../support/serve-binary.js';
import { waitUntil } from '../support/wait.js';

/**
 * Issue 16: a scope set twice, by two documents of one policy file or by two cluster objects, is
 * reported, and the setting that deletes less applies. On the built binary: `plan` warns per conflict
 * and lists it in JSON, and a serving exporter shows it in /api/v1/policy, the log and
 * checkpoint_policy_conflicts.
 */
const OWNER = { namespace: 'shop-prod', pod: 'cart-0', container: 'cart-api' } as const;
const ARCHIVES = 8;

let root: string;
let counter = 0;
beforeAll(async () => {
  if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: run npm run build (npm test does)`);
  root = await mkdtemp(join(tmpdir(), 'policy-conflicts-'));
});
afterAll(() => rm(root, { recursive: true, force: true }));

/** Eight archives of one container, oldest first by name. */
async function archiveDirectory(): Promise<{ dir: string; files: string[] }> {
  const dir = join(root, `archives-${(counter += 1)}`);
  await mkdir(dir);
  const files: string[] = [];
  for (let i = 0; i < ARCHIVES; i += 1) {
    files.push(await writeSampleArchive(dir, { ...OWNER, timestamp: new Date(Date.parse('2026-03-01T00:00:00Z') + i * 60_000), runtime: 'containerd' }));
  }
  return { dir, files: files.sort() };
}

const doc = (limit: number): string =>
  `apiVersion: criu.org/v1\nkind: CheckpointRestoreOperator\nspec:\n  containerPolicies:\n    - { namespace: ${OWNER.namespace}, pod: ${OWNER.pod}, container: ${OWNER.container}, maxCheckpoints: ${limit} }\n`;

async function twoDocumentFile(): Promise<string> {
  const file = join(root, `policy-${(counter += 1)}.yaml`);
  await writeFile(file, `${doc(3)}---\n${doc(5)}`);
  return file;
}

const conflictLine = (file: string): string =>
  `checkpoint-exporter: warning: policy conflict: container shop-prod/cart-0/cart-api maxCheckpoints is set differently: 3 by file ${file} document 0 containerPolicies[0], ` +
  `5 by file ${file} document 1 containerPolicies[0]; 5 by file ${file} document 1 containerPolicies[0] applies: no limit deletes least, then the larger limit`;

interface PlanJson {
  deletions: { file: string; limit: number; policy: string }[];
  conflicts: { field: string; scope: string; settings: { source: string; value: unknown }[]; applied: { source: string; value: unknown } }[];
}

describe('two documents of one policy file set the same scope', () => {
  it('plan warns once per conflict and plans with the larger limit', async () => {
    const { dir, files } = await archiveDirectory();
    const file = await twoDocumentFile();
    const table = await runCli(['plan', '--checkpoint-dir', dir, '--config', file, '-o', 'wide']);
    expect({ code: table.code, stderr: table.stderr.split('\n').filter(Boolean) }).toEqual({ code: 0, stderr: [conflictLine(file)] });
    // 8 archives, limit 5 (not 3): the three oldest go.
    expect(table.stdout).toContain('would delete 3 archives');
    expect(table.stdout).toContain(`limit 5 (file ${file} document 1 containerPolicies[0])`);

    const json = await runCli(['plan', '--checkpoint-dir', dir, '--config', file, '-o', 'json']);
    const plan = JSON.parse(json.stdout) as PlanJson;
    expect(plan.deletions.map((d) => [d.file, d.limit])).toEqual(files.slice(0, 3).map((f) => [f, 5]));
    expect(plan.conflicts).toEqual([
      expect.objectContaining({
        field: 'maxCheckpoints',
        scope: 'container shop-prod/cart-0/cart-api',
        settings: [
          { source: `file ${file} document 0 containerPolicies[0]`, value: 3 },
          { source: `file ${file} document 1 containerPolicies[0]`, value: 5 },
        ],
        applied: { source: `file ${file} document 1 containerPolicies[0]`, value: 5 },
      }),
    ]);
    expect((await readdir(dir)).sort()).toEqual(files);

    // inspect judges by the same merged policy and says so: the oldest goes under the limit of 5.
    const inspected = await runCli(['inspect', join(dir, files[0] ?? ''), '--config', file]);
    expect({ code: inspected.code, stderr: inspected.stderr.split('\n').filter(Boolean) }).toEqual({ code: 0, stderr: [conflictLine(file)] });
    expect(inspected.stdout).toContain('limit 5');
  });

  it('serve shows the conflict in /api/v1/policy and the metric, logs it once, and deletes to the larger limit', async () => {
    const { dir, files } = await archiveDirectory();
    const file = await twoDocumentFile();
    const served = await serveBinary(['--checkpoint-dir', dir, '--config', file, '--settle-time', '100ms', '--resync-interval', '300ms', '--log-level', 'info']);
    try {
      const runs = async (): Promise<number> => sampleValue(await served.metrics(), 'checkpoint_retention_runs_total', { kind: 'full' }) ?? 0;
      // Several full runs (start and resyncs), each merging nothing new: the conflict is logged once.
      await waitUntil(async () => (await runs()) >= 3, 'three full retention runs', 30_000);
      await waitUntil(async () => (await readdir(dir)).length === 5, 'deletion down to the larger limit', 30_000);
      expect((await readdir(dir)).sort()).toEqual(files.slice(3));
      expect(sampleValue(await served.metrics(), 'checkpoint_policy_conflicts')).toBe(1);
      const policy = (await (await fetch(`${served.url}api/v1/policy`)).json()) as { conflicts: PlanJson['conflicts']; effective: { containerPolicies: { maxCheckpoints: number }[] } };
      expect(policy.conflicts).toMatchObject([{ field: 'maxCheckpoints', scope: 'container shop-prod/cart-0/cart-api', applied: { value: 5 } }]);
      expect(policy.effective.containerPolicies).toMatchObject([{ maxCheckpoints: 5 }]);
      const logged = served.log().split('\n').filter((line) => line.includes('"msg":"policy conflict: '));
      expect(logged).toHaveLength(1);
      expect(logged[0]).toContain('container shop-prod/cart-0/cart-api maxCheckpoints is set differently');
    } finally {
      await served.stop();
    }
  });
});

describe('two CheckpointRestoreOperator objects set the same scope (in-process API server)', () => {
  let fake: FakeApiServer;
  let kubeconfig: string;
  beforeAll(async () => {
    fake = await startFakeApiServer();
    kubeconfig = join(root, 'kubeconfig');
    await writeFile(kubeconfig, fake.kubeconfigYaml());
    fake.upsertPod({ namespace: OWNER.namespace, name: OWNER.pod, nodeName: 'node-a', containers: [OWNER.container] });
  });
  afterAll(() => fake.close());

  it('plan warns and plans with the larger limit, whatever the object names', async () => {
    const { dir, files } = await archiveDirectory();
    // aaa-two ranks first by name: under "first setter wins" its 2 would apply and delete 6 archives.
    fake.upsertPolicy(OWNER.namespace, 'aaa-two', { namespacePolicies: [{ namespace: OWNER.namespace, maxCheckpoints: 2 }] });
    fake.upsertPolicy(OWNER.namespace, 'bbb-six', { namespacePolicies: [{ namespace: OWNER.namespace, maxCheckpoints: 6 }] });
    try {
      const ran = await runCli(['plan', '--checkpoint-dir', dir, '--kubeconfig', kubeconfig, '--node-name', 'node-a', '-o', 'json']);
      expect(ran.code).toBe(0);
      expect(ran.stderr.split('\n').filter(Boolean)).toEqual([
        'checkpoint-exporter: warning: policy conflict: namespace shop-prod maxCheckpoints is set differently: 2 by CheckpointRestoreOperator shop-prod/aaa-two namespacePolicies[0], ' +
          '6 by CheckpointRestoreOperator shop-prod/bbb-six namespacePolicies[0]; 6 by CheckpointRestoreOperator shop-prod/bbb-six namespacePolicies[0] applies: no limit deletes least, then the larger limit',
      ]);
      const plan = JSON.parse(ran.stdout) as PlanJson;
      expect(plan.deletions.map((d) => [d.file, d.limit])).toEqual(files.slice(0, 2).map((f) => [f, 6]));
      expect(plan.conflicts).toHaveLength(1);
    } finally {
      fake.deletePolicy(OWNER.namespace, 'aaa-two');
      fake.deletePolicy(OWNER.namespace, 'bbb-six');
    }
  });
});
