import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { GetObjectCommand, HeadObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { createHash } from 'node:crypto';
import { appendFile, lstat, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { fetchArchive } from '../../../src/offload/fetch-archive.js';
import { createOffloader, type OffloadResult } from '../../../src/offload/offloader.js';
import { parseOffloadRecord } from '../../../src/offload/record.js';
import { createS3Target } from '../../../src/offload/s3-target.js';
import { createRetentionExecutor } from '../../../src/retention/execute.js';
import type { PlannedDeletion, RetentionPlan } from '../../../src/retention/types.js';
import { S3RVER_CREDENTIALS, startS3Server, type S3Server } from '../../support/s3-server.js';

/** The S3 target against an S3 protocol server on loopback: multipart for large archives, nothing left by a failed copy, fetch verified. */
const BUCKET = 'checkpoints';
const IDENTITY = { namespace: 'shop', pod: 'web-0', container: 'api' } as const;
const NODE = 'node-a';
const logger = pino({ level: 'silent' });

let server: S3Server;
let client: S3Client;
let root: string;
let dir: string;
let dirIdentity: { dev: number; ino: number };
let counter = 0;
const savedEnv: Record<string, string | undefined> = {};

beforeAll(async () => {
  for (const [name, value] of Object.entries(S3RVER_CREDENTIALS)) {
    savedEnv[name] = process.env[name];
    process.env[name] = value;
  }
  server = await startS3Server(BUCKET);
  client = new S3Client({ region: 'us-east-1', endpoint: server.endpoint, forcePathStyle: true });
  root = await mkdtemp(path.join(tmpdir(), 'offload-s3-'));
});
afterAll(async () => {
  client.destroy();
  await server.stop();
  await rm(root, { recursive: true, force: true });
  for (const [name, value] of Object.entries(savedEnv)) {
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
});
beforeEach(async () => {
  dir = path.join(root, `checkpoints-${(counter += 1)}`);
  await mkdir(dir);
  const stats = await stat(dir);
  dirIdentity = { dev: stats.dev, ino: stats.ino };
});

const nameOf = (minute: number): string => `checkpoint-web-0_shop-api-2024-01-28T00:${String(minute).padStart(2, '0')}:45Z.tar`;

async function archive(minute: number, bytes: number): Promise<{ fileName: string; sha256: string }> {
  const content = Buffer.alloc(bytes);
  for (let i = 0; i + 4 <= bytes; i += 4096) content.writeUInt32BE((i * 2654435761 + minute) >>> 0, i);
  const fileName = nameOf(minute);
  await writeFile(path.join(dir, fileName), content);
  return { fileName, sha256: createHash('sha256').update(content).digest('hex') };
}

async function planned(fileName: string): Promise<PlannedDeletion> {
  const stats = await lstat(path.join(dir, fileName));
  return {
    fileName,
    fingerprint: { dev: stats.dev, ino: stats.ino, size: stats.size, mtimeMs: stats.mtimeMs, nlink: stats.nlink },
    identity: IDENTITY,
    reason: 'count',
    limitValue: 1,
    scope: { level: 'container', ...IDENTITY },
    policySource: 'default',
    detail: 'limit 1',
  };
}

const planOf = (deletions: PlannedDeletion[]): RetentionPlan => ({ deletions, unsatisfiable: [], effectiveLimits: [], directoryIdentity: dirIdentity });

function setUp(prefix: string, bandwidth = 0) {
  const target = createS3Target({ bucket: BUCKET, prefix, endpoint: server.endpoint, region: undefined });
  const results: OffloadResult[] = [];
  const offloader = createOffloader({
    directory: dir,
    node: NODE,
    target,
    concurrency: 2,
    bandwidthBytesPerSecond: bandwidth,
    diskPressureDeletesUnoffloaded: false,
    observer: { onResult: (result) => results.push(result), onQueue: () => undefined, onFailing: () => undefined },
    logger,
    now: () => Date.now(),
  });
  const executor = createRetentionExecutor({ directory: dir, dryRun: false, logger, offloader, observer: { onDeleted: () => undefined, onError: () => undefined } });
  return { target, executor, results };
}

/** Object keys under a prefix, read from the server's own store on disk (each object is a directory holding `._S3rver_object`). */
async function keysUnder(prefix: string): Promise<string[]> {
  const bucket = path.join(server.directory, BUCKET);
  const names = (await readdir(bucket, { recursive: true })).map(String);
  return names
    .filter((name) => name.endsWith('._S3rver_object'))
    .map((name) => name.slice(0, -'._S3rver_object'.length).split(path.sep).join('/'))
    .filter((key) => key.startsWith(prefix))
    .sort();
}

describe('offload to an S3-compatible store', () => {
  it('a small and a multipart archive become one object each with a record; the executor then unlinks them; fetch brings one back verified', async () => {
    const small = await archive(10, 64 * 1024);
    // Larger than two 8 MiB parts: a multipart upload.
    const large = await archive(20, 17 * 1024 * 1024 + 5);
    const { target, executor, results } = setUp('forensics/run-1');
    const result = await executor.execute(planOf([await planned(small.fileName), await planned(large.fileName)]));
    expect(result.deleted).toBe(2);
    expect(results).toEqual(['offloaded', 'offloaded']);
    expect(await readdir(dir)).toEqual([]);
    const base = `forensics/run-1/${NODE}/shop/web-0/api`;
    expect(await keysUnder('forensics/run-1/')).toEqual([`${base}/${small.fileName}`, `${base}/${small.fileName}.offload.json`, `${base}/${large.fileName}`, `${base}/${large.fileName}.offload.json`].sort());
    const head = await client.send(new HeadObjectCommand({ Bucket: BUCKET, Key: `${base}/${large.fileName}` }));
    expect(head.ContentLength).toBe(17 * 1024 * 1024 + 5);
    const recordObject = await client.send(new GetObjectCommand({ Bucket: BUCKET, Key: `${base}/${large.fileName}.offload.json` }));
    const record = parseOffloadRecord(await recordObject.Body!.transformToString());
    expect(record).toMatchObject({ node: NODE, fileName: large.fileName, identity: IDENTITY, sha256: large.sha256, size: 17 * 1024 * 1024 + 5 });
    expect(result.outcomes.map((o) => (o.outcome === 'deleted' ? o.offloadedTo : undefined))).toEqual([`s3://${BUCKET}/${base}/${small.fileName}`, `s3://${BUCKET}/${base}/${large.fileName}`]);

    const fetched = await fetchArchive(target, `${NODE}/shop/web-0/api/${large.fileName}`, dir);
    expect(fetched.ok).toBe(true);
    expect(createHash('sha256').update(await readFile(path.join(dir, large.fileName))).digest('hex')).toBe(large.sha256);
    // Never over an archive already there.
    const again = await fetchArchive(target, `${NODE}/shop/web-0/api/${large.fileName}`, dir);
    expect(again).toMatchObject({ ok: false, reason: expect.stringContaining('is not replaced') });
  });

  it('an archive that changes during its upload is kept, and no object is left under its key', async () => {
    const a = await archive(30, 12 * 1024 * 1024);
    // 4 MiB/s: the upload takes about three seconds; the append lands early in it, whatever the load.
    const { executor, results } = setUp('forensics/run-2', 4 * 1024 * 1024);
    const running = executor.execute(planOf([await planned(a.fileName)]));
    await new Promise((resolve) => setTimeout(resolve, 150));
    await appendFile(path.join(dir, a.fileName), 'more');
    const result = await running;
    expect(result.outcomes[0]).toMatchObject({ outcome: 'skipped', reason: expect.stringContaining('changed while it was copied') });
    expect(results).toEqual(['failed']);
    expect(await readdir(dir)).toEqual([a.fileName]);
    expect(await keysUnder('forensics/run-2/')).toEqual([]);
  });

  it('fetch refuses a copy whose bytes are not the ones recorded, and leaves nothing in the directory', async () => {
    const a = await archive(40, 100_000);
    const { target, executor } = setUp('forensics/run-3');
    expect((await executor.execute(planOf([await planned(a.fileName)]))).deleted).toBe(1);
    const key = `${NODE}/shop/web-0/api/${a.fileName}`;
    // The record now promises other bytes than the object holds.
    const record = parseOffloadRecord(await (await client.send(new GetObjectCommand({ Bucket: BUCKET, Key: `forensics/run-3/${key}.offload.json` }))).Body!.transformToString());
    const { PutObjectCommand } = await import('@aws-sdk/client-s3');
    await client.send(new PutObjectCommand({ Bucket: BUCKET, Key: `forensics/run-3/${key}.offload.json`, Body: JSON.stringify({ ...record, sha256: '0'.repeat(64) }) }));
    const fetched = await fetchArchive(target, key, dir);
    expect(fetched).toMatchObject({ ok: false, reason: expect.stringContaining('SHA-256') });
    expect(await readdir(dir)).toEqual([]);
  });
});
