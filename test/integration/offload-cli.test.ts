import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeSampleArchive, type SampleArchiveOptions } from '../../src/demo/sample-archives.js';
import { canMountTmpfs } from '../support/binaries.js';
import { sampleValue } from '../support/metrics-text.js';
import { runCli, serveBinary, type ServedBinary } from '../support/serve-binary.js';
import { waitUntil } from '../support/wait.js';

/** Issue 19 on the built binary: `serve --offload-to <dir>` copies before it deletes, and `fetch` brings a copy back. */
const mountable = canMountTmpfs();
const describeMounted = mountable ? describe : describe.skip;

const OWNER = { namespace: 'shop-prod', pod: 'cart-0', container: 'cart-api' } as const;
const NODE = 'worker-1';
const HEADER = 'apiVersion: criu.org/v1\nkind: CheckpointRestoreOperator\nmetadata:\n  name: node-policy\n';

let root: string;
let offloadRoot: string;
let counter = 0;
const running: ServedBinary[] = [];

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'offload-cli-'));
  offloadRoot = join(root, 'offload');
  await mkdir(offloadRoot);
  if (mountable) execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=32m', 'tmpfs', offloadRoot]);
});
afterEach(async () => {
  for (const served of running.splice(0)) await served.stop();
});
afterAll(async () => {
  if (mountable) execFileSync('umount', [offloadRoot]);
  await rm(root, { recursive: true, force: true });
});

async function directory(): Promise<string> {
  const dir = join(root, `archives-${(counter += 1)}`);
  await mkdir(dir);
  return dir;
}

async function policy(maxPerContainer: number): Promise<string> {
  const file = join(root, `policy-${(counter += 1)}.yaml`);
  await writeFile(file, `${HEADER}spec:\n  globalPolicy:\n    maxCheckpointsPerContainer: ${maxPerContainer}\n`);
  return file;
}

const at = (ms: number): SampleArchiveOptions => ({ ...OWNER, timestamp: new Date(ms), runtime: 'containerd', payloadBytes: 256 * 1024 });
const sha256Of = async (file: string): Promise<string> => createHash('sha256').update(await readFile(file)).digest('hex');

describeMounted('offload before delete on the built binary', () => {
  it('the archive a count limit selects is copied to the other filesystem, verified, recorded, then deleted; fetch brings it back verified', async () => {
    const dir = await directory();
    const target = join(offloadRoot, `run-${counter}`);
    const now = Date.now();
    const oldest = await writeSampleArchive(dir, at(now - 3 * 3_600_000));
    const kept = [await writeSampleArchive(dir, at(now - 2 * 3_600_000)), await writeSampleArchive(dir, at(now - 3_600_000))];
    const originalSha = await sha256Of(join(dir, oldest));
    const served = await serveBinary(['--checkpoint-dir', dir, '--config', await policy(2), '--settle-time', '200ms', '--node-name', NODE, '--offload-to', target]);
    running.push(served);
    await waitUntil(() => !existsSync(join(dir, oldest)), 'the oldest archive leaves the node', 30_000);
    const copy = join(target, NODE, OWNER.namespace, OWNER.pod, OWNER.container, oldest);
    expect(await sha256Of(copy)).toBe(originalSha);
    const record = JSON.parse(await readFile(`${copy}.offload.json`, 'utf8')) as Record<string, unknown>;
    expect(record).toMatchObject({ node: NODE, fileName: oldest, identity: OWNER, sha256: originalSha });
    expect(record['composition']).toMatchObject({ restorable: true });
    expect((await readdir(dir)).sort()).toEqual([...kept].sort());
    const text = await served.metrics();
    expect(sampleValue(text, 'checkpoint_offload_archives_total', { result: 'offloaded' })).toBe(1);
    expect(sampleValue(text, 'checkpoint_offload_bytes_total', { result: 'offloaded' })).toBe((await readFile(copy)).length);
    expect(sampleValue(text, 'checkpoint_offload_last_success_timestamp_seconds')).toBeGreaterThan(now / 1000 - 60);
    expect(sampleValue(text, 'checkpoint_retention_deletions_total', { namespace: OWNER.namespace, reason: 'count' })).toBe(1);
    expect(served.log()).toContain(`offloaded to ${copy}`);

    // fetch: back into a checkpoint directory, verified against the record, under the archive's own name.
    const restoreDir = await directory();
    const key = `${NODE}/${OWNER.namespace}/${OWNER.pod}/${OWNER.container}/${oldest}`;
    const fetched = await runCli(['fetch', key, '--from', target, '--checkpoint-dir', restoreDir]);
    expect(fetched).toMatchObject({ code: 0, stdout: expect.stringContaining(`sha256 ${originalSha}`) });
    expect(await sha256Of(join(restoreDir, oldest))).toBe(originalSha);
    expect(await readdir(restoreDir)).toEqual([oldest]);
    // A copy whose bytes are not the recorded ones is refused, exit 3, and nothing is written.
    await writeFile(copy, 'tampered');
    const refused = await runCli(['fetch', key, '--from', target, '--checkpoint-dir', await directory()]);
    expect(refused.code).toBe(3);
    expect(refused.stderr).toContain('bytes, ');
  });

  it('a target that cannot be written keeps every archive, counts the failure and logs it', async () => {
    const dir = await directory();
    const now = Date.now();
    const files = [await writeSampleArchive(dir, at(now - 3 * 3_600_000)), await writeSampleArchive(dir, at(now - 3_600_000))];
    // A file where the target's node directory must be: every copy fails with ENOTDIR or EEXIST.
    const target = join(offloadRoot, `blocked-${counter}`);
    await mkdir(target);
    await writeFile(join(target, NODE), 'not a directory');
    const served = await serveBinary(['--checkpoint-dir', dir, '--config', await policy(1), '--settle-time', '200ms', '--node-name', NODE, '--offload-to', target]);
    running.push(served);
    await waitUntil(async () => (sampleValue(await served.metrics(), 'checkpoint_offload_archives_total', { result: 'failed' }) ?? 0) >= 1, 'the failed copy is counted', 30_000);
    expect((await readdir(dir)).sort()).toEqual([...files].sort());
    expect(served.log()).toContain('offload: copy failed; the archive stays on the node');
    expect(served.log()).toContain('retention: keeping archive: its offload failed');
  });

  it('plan --offload-to shows each deletion as an offload and where its copy goes; without it, as a delete', async () => {
    const dir = await directory();
    const now = Date.now();
    const oldest = await writeSampleArchive(dir, at(now - 3 * 3_600_000));
    await writeSampleArchive(dir, at(now - 3_600_000));
    const config = await policy(1);
    const target = join(offloadRoot, 'planned');
    const table = await runCli(['plan', '--checkpoint-dir', dir, '--config', config, '--node-name', NODE, '--offload-to', target, '-o', 'wide']);
    expect(table.code).toBe(0);
    const row = table.stdout.split('\n').find((line) => line.startsWith(oldest));
    expect(row).toContain(' offload ');
    expect(row).toContain(join(target, NODE, OWNER.namespace, OWNER.pod, OWNER.container, oldest));
    expect(table.stdout).toMatch(/ACTION +OFFLOAD-TO/);
    const json = JSON.parse((await runCli(['plan', '--checkpoint-dir', dir, '--config', config, '--node-name', NODE, '--offload-to', 's3://forensics/node-archive', '-o', 'json'])).stdout) as { deletions: Array<Record<string, unknown>> };
    expect(json.deletions).toEqual([expect.objectContaining({ file: oldest, action: 'offload', offloadTo: `s3://forensics/node-archive/${NODE}/${OWNER.namespace}/${OWNER.pod}/${OWNER.container}/${oldest}` })]);
    // plan copies nothing.
    expect(existsSync(target)).toBe(false);
    const plain = await runCli(['plan', '--checkpoint-dir', dir, '--config', config]);
    expect(plain.stdout).not.toContain('ACTION');
  });

  it('refuses a relative or unknown target, a bad bandwidth or concurrency, and S3 flags without a target, in one line, exit 1', async () => {
    for (const [value, message] of [
      ['relative/dir', 'is not an absolute directory path or an s3:// URL'],
      ['https://example.com/x', 'only s3:// URLs and directories are offload targets'],
      ['s3://Bad_Bucket/x', 'is not an S3 bucket name'],
    ] as const) {
      const result = await runCli(['serve', '--offload-to', value]);
      expect(result.code).toBe(1);
      expect(result.stderr).toContain(message);
    }
    for (const [args, message] of [
      [['--offload-to', '/x', '--offload-bandwidth', 'fast'], '--offload-bandwidth: "fast" is not a Kubernetes quantity'],
      [['--offload-to', '/x', '--offload-concurrency', '0'], '--offload-concurrency: expected a whole number from 1 to 32'],
      [['--offload-s3-endpoint', 'http://127.0.0.1:9'], '--offload-s3-endpoint needs --offload-to'],
    ] as const) {
      const result = await runCli(['serve', ...args]);
      expect(result.code).toBe(1);
      expect(result.stderr).toContain(message);
    }
  });
});
