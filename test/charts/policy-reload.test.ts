import { spawn, type ChildProcess } from 'node:child_process';
import { access, mkdir, mkdtemp, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { IDaemonSet } from 'kubernetes-models/apps/v1/DaemonSet';
import { writeSampleArchive } from '../../src/demo/sample-archives.js';
import { findObject } from '../manifests/support/kube-object.js';
import { ROOT } from '../manifests/support/targets.js';
import { helmUnavailableReason, renderChart } from './support/helm.js';

/**
 * The chart's promise that a policy edit needs no restart, checked end to end: the built exporter is
 * started with the arguments and environment the chart renders, its policy directory laid out the way
 * the kubelet lays out a ConfigMap volume (`policy.yaml` → `..data/policy.yaml`, `..data` → a timestamped
 * directory), and the ConfigMap update is replayed the way the kubelet does it: a new timestamped
 * directory, then `..data` swapped by an atomic rename.
 */

const CLI = path.join(ROOT, 'dist', 'cli', 'main.js');
const POLL_MS = 100;
const TIMEOUT_MS = 45_000;

const policy = (maxCheckpointsPerContainer: number): string =>
  `apiVersion: criu.org/v1\nkind: CheckpointRestoreOperator\nmetadata:\n  name: node-defaults\nspec:\n  globalPolicy:\n    maxCheckpointsPerContainer: ${maxCheckpointsPerContainer}\n`;

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  if (typeof address !== 'object' || address === null) throw new Error('no port');
  return address.port;
}

/** One version of the ConfigMap, as the kubelet's atomic writer lays it out. */
async function writeConfigMapVersion(dir: string, version: number, content: string): Promise<void> {
  const versionDir = `..2026_01_01_00_00_0${version}.000000001`;
  await mkdir(path.join(dir, versionDir));
  await writeFile(path.join(dir, versionDir, 'policy.yaml'), content);
  await symlink(versionDir, path.join(dir, '..data_tmp'));
  await rename(path.join(dir, '..data_tmp'), path.join(dir, '..data'));
}

(helmUnavailableReason() === undefined ? describe : describe.skip)('the chart policy, edited while the exporter runs', () => {
  let scratch: string;
  let child: ChildProcess | undefined;
  let base: string;
  let stderr = '';

  beforeAll(async () => {
    await access(CLI).catch(() => {
      throw new Error(`${CLI} is missing: run \`npm run build\` (npm test does) before this test`);
    });
    scratch = await mkdtemp(path.join(os.tmpdir(), 'chart-policy-reload-'));
    const checkpoints = path.join(scratch, 'checkpoints');
    const policyDir = path.join(scratch, 'policy');
    await mkdir(checkpoints);
    await mkdir(policyDir);
    const hourAgo = new Date(Date.now() - 3_600_000);
    await writeSampleArchive(checkpoints, { namespace: 'shop', pod: 'web-0', container: 'nginx', timestamp: hourAgo, mtime: hourAgo, runtime: 'cri-o' });
    await writeConfigMapVersion(policyDir, 1, policy(5));
    await symlink('..data/policy.yaml', path.join(policyDir, 'policy.yaml'));

    const objects = await renderChart({ policy: policy(5), dryRun: true });
    const pod = (findObject(objects, 'DaemonSet', 'checkpoint-exporter') as unknown as IDaemonSet).spec?.template.spec;
    const container = pod?.containers[0];
    const policyMount = container?.volumeMounts?.find((mount) => mount.name === 'policy')?.mountPath ?? 'missing';
    const port = await freePort();
    const args = (container?.args ?? []).map((arg, index, all) => {
      if (all[index - 1] === '--checkpoint-dir') return checkpoints;
      if (all[index - 1] === '--listen-address') return `127.0.0.1:${port}`;
      if (arg.startsWith(`${policyMount}/`)) return path.join(policyDir, arg.slice(policyMount.length + 1));
      return arg;
    });
    expect(args).toContain(path.join(policyDir, 'policy.yaml'));
    const env: NodeJS.ProcessEnv = { PATH: process.env['PATH'] ?? '' };
    for (const variable of container?.env ?? []) {
      if (variable.valueFrom?.fieldRef?.fieldPath === 'spec.nodeName') env[variable.name] = 'node-a';
      if (variable.valueFrom?.fieldRef?.fieldPath === 'metadata.namespace') env[variable.name] = 'checkpoint-exporter';
    }
    child = spawn(process.execPath, [CLI, ...args], { env, stdio: ['ignore', 'ignore', 'pipe'] });
    child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    base = `http://127.0.0.1:${port}`;
  }, 60_000);

  afterAll(async () => {
    if (child !== undefined && child.exitCode === null) {
      const exited = new Promise((resolve) => child?.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    }
    await rm(scratch, { recursive: true, force: true });
  });

  async function poll<T>(what: string, attempt: () => Promise<T | undefined>): Promise<T> {
    const deadline = Date.now() + TIMEOUT_MS;
    while (Date.now() < deadline) {
      if (child?.exitCode !== null) throw new Error(`exporter exited with ${child?.exitCode} while waiting for ${what}:\n${stderr}`);
      const value = await attempt().catch(() => undefined);
      if (value !== undefined) return value;
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
    throw new Error(`gave up waiting for ${what}:\n${stderr}`);
  }

  async function containerLimit(): Promise<{ value: number; source: string } | undefined> {
    const response = await fetch(`${base}/api/v1/policy`, { signal: AbortSignal.timeout(5_000) });
    if (response.status !== 200) return undefined;
    const body = (await response.json()) as { effective: { globalPolicy: { maxCheckpointsPerContainer: { value: number; source: string } } } };
    return body.effective.globalPolicy.maxCheckpointsPerContainer;
  }

  it('applies the mounted policy, and a ConfigMap update without a restart', async () => {
    await poll('readiness', async () => ((await fetch(`${base}/readyz`)).status === 200 ? true : undefined));
    expect(await containerLimit()).toMatchObject({ value: 5, source: expect.stringContaining('policy.yaml') });
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toMatch(/^checkpoint_retention_dry_run 1$/m);

    await writeConfigMapVersion(path.join(scratch, 'policy'), 2, policy(3));
    const updated = await poll('the updated policy', async () => {
      const limit = await containerLimit();
      return limit?.value === 3 ? limit : undefined;
    });
    expect(updated.value).toBe(3);
    expect(child?.exitCode).toBeNull();
  }, 2 * TIMEOUT_MS);

  const reloadSuccessful = async (): Promise<string | undefined> =>
    /^checkpoint_config_last_reload_successful (\d)$/m.exec(await (await fetch(`${base}/metrics`, { signal: AbortSignal.timeout(5_000) })).text())?.[1];

  it('keeps the last good policy while the policy volume is gone, and applies the one mounted again', async () => {
    await poll('readiness', async () => ((await fetch(`${base}/readyz`)).status === 200 ? true : undefined));
    const policyDir = path.join(scratch, 'policy');
    const before = await containerLimit();
    expect(await reloadSuccessful()).toBe('1');

    await rm(policyDir, { recursive: true });
    await poll('the failed reload', async () => ((await reloadSuccessful()) === '0' ? true : undefined));
    await poll('the log line of the directory gone', async () => (stderr.includes('policy directory is gone') ? true : undefined));
    expect(await containerLimit()).toEqual(before);

    await mkdir(policyDir);
    await writeConfigMapVersion(policyDir, 3, policy(8));
    await symlink('..data/policy.yaml', path.join(policyDir, 'policy.yaml'));
    await poll('the policy mounted again', async () => ((await containerLimit())?.value === 8 ? true : undefined));
    expect(await reloadSuccessful()).toBe('1');
    // The log is written asynchronously: wait for the line rather than expect it already there.
    await poll('the log line of the directory back', async () => (stderr.includes('policy directory is back') ? true : undefined));
    expect(stderr.match(/policy directory is gone/g)).toHaveLength(1);
    expect(stderr.match(/policy directory is back/g)).toHaveLength(1);
    expect(child?.exitCode).toBeNull();
  }, 2 * TIMEOUT_MS);
});
