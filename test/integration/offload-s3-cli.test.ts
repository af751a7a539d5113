import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeSampleArchive, type SampleArchiveOptions } from '../../src/demo/sample-archives.js';
import { sampleValue } from '../support/metrics-text.js';
import { S3RVER_CREDENTIALS, startS3Server, type S3Server } from '../support/s3-server.js';
import { runCli, serveBinary, type ServedBinary } from '../support/serve-binary.js';
import { waitUntil } from '../support/wait.js';

/**
 * Issue 19 on the built binary against an S3 protocol server on loopback: credentials only from the
 * environment (the SDK's chain), path-style addressing through --offload-s3-endpoint, and fetch back.
 */
const BUCKET = 'node-archive';
const OWNER = { namespace: 'shop-prod', pod: 'cart-0', container: 'cart-api' } as const;
const NODE = 'worker-2';
const HEADER = 'apiVersion: criu.org/v1\nkind: CheckpointRestoreOperator\nmetadata:\n  name: node-policy\n';

let server: S3Server;
let root: string;
const running: ServedBinary[] = [];

beforeAll(async () => {
  server = await startS3Server(BUCKET);
  root = await mkdtemp(join(tmpdir(), 'offload-s3-cli-'));
});
afterEach(async () => {
  for (const served of running.splice(0)) await served.stop();
});
afterAll(async () => {
  await server.stop();
  await rm(root, { recursive: true, force: true });
});

const at = (ms: number): SampleArchiveOptions => ({ ...OWNER, timestamp: new Date(ms), runtime: 'containerd', payloadBytes: 9 * 1024 * 1024 });
const sha256Of = async (file: string): Promise<string> => createHash('sha256').update(await readFile(file)).digest('hex');

describe('offload to S3 on the built binary', () => {
  it('copies the selected archive to the bucket (credentials from the environment only), deletes it, and fetch brings it back verified', async () => {
    const dir = join(root, 'checkpoints');
    await mkdir(dir);
    const policy = join(root, 'policy.yaml');
    await writeFile(policy, `${HEADER}spec:\n  globalPolicy:\n    maxCheckpointsPerContainer: 1\n`);
    const now = Date.now();
    const oldest = await writeSampleArchive(dir, at(now - 2 * 3_600_000));
    const newest = await writeSampleArchive(dir, at(now - 3_600_000));
    const sha = await sha256Of(join(dir, oldest));
    const served = await serveBinary(
      ['--checkpoint-dir', dir, '--config', policy, '--settle-time', '200ms', '--node-name', NODE, '--offload-to', `s3://${BUCKET}/checkpoints`, '--offload-s3-endpoint', server.endpoint],
      { env: S3RVER_CREDENTIALS },
    );
    running.push(served);
    await waitUntil(() => !existsSync(join(dir, oldest)), 'the oldest archive leaves the node', 30_000);
    const key = `${NODE}/${OWNER.namespace}/${OWNER.pod}/${OWNER.container}/${oldest}`;
    expect(served.log()).toContain(`offloaded to s3://${BUCKET}/checkpoints/${key}`);
    // The secret never reaches the log.
    expect(served.log()).not.toContain(S3RVER_CREDENTIALS.AWS_SECRET_ACCESS_KEY);
    expect(sampleValue(await served.metrics(), 'checkpoint_offload_archives_total', { result: 'offloaded' })).toBe(1);
    expect(await readdir(dir)).toEqual([newest]);

    const restoreDir = join(root, 'restore');
    await mkdir(restoreDir);
    const fetchArgs = ['fetch', key, '--from', `s3://${BUCKET}/checkpoints`, '--offload-s3-endpoint', server.endpoint, '--checkpoint-dir', restoreDir];
    const fetched = await runCli(fetchArgs, { env: S3RVER_CREDENTIALS });
    expect(fetched).toMatchObject({ code: 0, stdout: expect.stringContaining(`sha256 ${sha}`) });
    expect(await sha256Of(join(restoreDir, oldest))).toBe(sha);
    // Without credentials the store refuses, and fetch says so in one line, exit 3.
    const refused = await runCli(['fetch', key, '--from', `s3://${BUCKET}/checkpoints`, '--offload-s3-endpoint', server.endpoint, '--checkpoint-dir', join(root, 'nowhere')]);
    expect(refused.code).toBe(3);
    // The one error line (the SDK may print its own Node.js version notice before it on Node.js 20).
    const errors = refused.stderr.split('\n').filter((line) => line.startsWith('checkpoint-exporter: '));
    expect(errors).toEqual([expect.stringContaining('Could not load credentials')]);
  });
});
