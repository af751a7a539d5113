/**
 * Offload before delete, measured on the built binary: a 1 GiB archive that a count limit selects is
 * copied by `serve --offload-to` to a directory on another filesystem (a tmpfs the bench mounts as
 * root, else /dev/shm), against `cp` of the same file to the same filesystem in the same run,
 * interleaved. Also the exporter's RSS growth over the copy (sampled from /proc) and the worst
 * /healthz latency while it runs.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { writeSampleArchive } from '../src/demo/sample-archives.js';

const run = promisify(execFile);
const BINARY = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
const RUNS = Number(process.env['BENCH_RUNS'] ?? 3);
const ARCHIVE_BYTES = Number(process.env['BENCH_OFFLOAD_BYTES'] ?? 2 ** 30);
const OWNER = { namespace: 'forensics', pod: 'db-0', container: 'postgres' } as const;
const NODE = 'bench-node';
const POLICY = 'apiVersion: criu.org/v1\nkind: CheckpointRestoreOperator\nmetadata:\n  name: bench\nspec:\n  globalPolicy:\n    maxCheckpointsPerContainer: 1\n';
const SAMPLE_MS = 20;

async function procKiB(pid: number, field: 'VmRSS' | 'VmHWM'): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(new RegExp(`^${field}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? Number.NaN);
}

async function sha256Of(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20 })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

function sample(text: string, name: string, labels = ''): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name}${labels === '' ? ' ' : `{${labels}} `}`));
  return line === undefined ? Number.NaN : Number(line.split(' ').at(-1));
}

async function until(condition: () => Promise<boolean> | boolean, what: string, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, SAMPLE_MS));
  }
}

interface OffloadRun {
  readonly seconds: number;
  readonly rssGrowthMiB: number;
  readonly healthzWorstMs: number;
  readonly bytes: number;
}

async function offloadOnce(work: string, pristine: string, fileName: string, target: string): Promise<OffloadRun> {
  const dir = join(work, 'checkpoints');
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir);
  await copyFile(pristine, join(dir, fileName));
  const policy = join(work, 'policy.yaml');
  await writeFile(policy, POLICY);
  const child: ChildProcess = spawn(
    process.execPath,
    [BINARY, 'serve', '--checkpoint-dir', dir, '--config', policy, '--listen-address', '127.0.0.1:0', '--node-name', NODE, '--settle-time', '200ms', '--offload-to', target],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let log = '';
  child.stderr?.on('data', (chunk: Buffer) => (log += chunk.toString()));
  try {
    await until(() => /"url":"http/.test(log), 'the exporter to listen', 30_000);
    const url = /"url":"(http[^"]+)"/.exec(log)?.[1] ?? '';
    const metrics = async (): Promise<string> => (await fetch(`${url}metrics`)).text();
    await until(async () => sample(await metrics(), 'checkpoint_retention_last_run_timestamp_seconds') > 0, 'the first retention run');
    const pid = child.pid as number;
    const baseline = await procKiB(pid, 'VmRSS');
    // A newer archive: the 1 GiB one is over the limit of 1 now, and is offloaded before its deletion.
    await writeSampleArchive(dir, { ...OWNER, timestamp: new Date(Date.now() - 60_000), runtime: 'containerd', payloadBytes: 4096 });
    let peak = baseline;
    let healthzWorstMs = 0;
    await until(async () => {
      peak = Math.max(peak, await procKiB(pid, 'VmRSS'));
      const started = performance.now();
      await (await fetch(`${url}healthz`)).text();
      healthzWorstMs = Math.max(healthzWorstMs, performance.now() - started);
      return !existsSync(join(dir, fileName));
    }, 'the archive to be offloaded and deleted');
    const text = await metrics();
    const bytes = sample(text, 'checkpoint_offload_bytes_total', 'result="offloaded"');
    if (bytes !== archiveBytes) throw new Error(`offloaded ${bytes} bytes, the archive has ${archiveBytes}: ${log}`);
    return { seconds: sample(text, 'checkpoint_offload_duration_seconds_sum', 'result="offloaded"'), rssGrowthMiB: (peak - baseline) / 1024, healthzWorstMs, bytes };
  } finally {
    child.kill('SIGTERM');
    await new Promise((resolve) => child.once('exit', resolve));
  }
}

async function cpOnce(pristine: string, target: string): Promise<number> {
  const destination = join(target, 'cp-copy.tar');
  const started = performance.now();
  await run('cp', [pristine, destination]);
  const seconds = (performance.now() - started) / 1000;
  await rm(destination);
  return seconds;
}

/** `sha256sum` of the archive: the floor any copy that hashes every byte with SHA-256 on one core stands on. */
async function sha256sumOnce(pristine: string): Promise<number> {
  const started = performance.now();
  await run('sha256sum', [pristine]);
  return (performance.now() - started) / 1000;
}

const median = (values: readonly number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? Number.NaN;
/** The archive's size as written (the payload plus the other entries and the tar headers). */
let archiveBytes = ARCHIVE_BYTES;
const mibPerSecond = (seconds: number): string => `${(archiveBytes / 2 ** 20 / seconds).toFixed(0)} MiB/s`;

export async function runOffloadBenchmark(): Promise<string> {
  if (!existsSync(BINARY)) throw new Error(`${BINARY} is missing: run npm run build first`);
  const work = await mkdtemp(join(tmpdir(), 'checkpoint-offload-bench-'));
  const root = typeof process.getuid === 'function' && process.getuid() === 0;
  const target = root ? join(work, 'target') : await mkdtemp('/dev/shm/checkpoint-offload-bench-');
  let mounted = false;
  try {
    if (root) {
      await mkdir(target);
      await run('mount', ['-t', 'tmpfs', '-o', `size=${Math.ceil((ARCHIVE_BYTES * 2.5) / 2 ** 20)}m`, 'tmpfs', target]);
      mounted = true;
    }
    // The archive is written once, as the kubelet would (not sparse: cp would skip holes), then copied
    // into place before each exporter run; the source sits on the disk of the temporary directory.
    const staging = join(work, 'staging');
    await mkdir(staging);
    // The memory pages take all but the few KiB of the other entries and the tar headers.
    const fileName = await writeSampleArchive(staging, { ...OWNER, timestamp: new Date(Date.now() - 2 * 3_600_000), runtime: 'containerd', payloadBytes: ARCHIVE_BYTES - 64 * 1024 });
    const pristine = join(work, 'pristine.tar');
    await copyFile(join(staging, fileName), pristine);
    await rm(staging, { recursive: true });
    archiveBytes = (await stat(pristine)).size;
    const expectedSha = await sha256Of(pristine);

    const cpSeconds: number[] = [];
    const sumSeconds: number[] = [];
    const runs: OffloadRun[] = [];
    for (let index = 0; index < RUNS; index += 1) {
      cpSeconds.push(await cpOnce(pristine, target));
      sumSeconds.push(await sha256sumOnce(pristine));
      runs.push(await offloadOnce(work, pristine, fileName, target));
      const copy = join(target, NODE, OWNER.namespace, OWNER.pod, OWNER.container, fileName);
      const record = JSON.parse(await readFile(`${copy}.offload.json`, 'utf8')) as { sha256: string };
      if (record.sha256 !== expectedSha) throw new Error(`the record says ${record.sha256}, the archive is ${expectedSha}`);
      if (index === 0 && (await sha256Of(copy)) !== expectedSha) throw new Error('the copy is not the archive');
      await rm(join(target, NODE), { recursive: true });
    }
    const offloadMedian = median(runs.map((r) => r.seconds));
    const cpMedian = median(cpSeconds);
    const ratio = cpMedian / offloadMedian;
    return [
      '## Offload before delete',
      '',
      `A ${(archiveBytes / 2 ** 30).toFixed(2)} GiB archive (${archiveBytes} bytes) over a count limit, offloaded by \`serve --offload-to\` (default concurrency, no bandwidth limit) to ${root ? 'a tmpfs the bench mounts' : '/dev/shm'} (another filesystem than the checkpoint directory's), against \`cp\` of the same file to the same filesystem, ${RUNS} of each, interleaved. The offload time is \`checkpoint_offload_duration_seconds\`: open, stream with SHA-256, fsync, rename, the record, the fingerprint checks. The copy and its record were checked against the archive's SHA-256.`,
      '',
      '| run | cp | sha256sum (reads and hashes, writes nothing) | offload | offload / cp throughput | RSS growth during the offload | worst /healthz during it |',
      '|---|---|---|---|---|---|---|',
      ...runs.map((r, index) => `| ${index + 1} | ${(cpSeconds[index] ?? Number.NaN).toFixed(2)} s (${mibPerSecond(cpSeconds[index] ?? Number.NaN)}) | ${(sumSeconds[index] ?? Number.NaN).toFixed(2)} s (${mibPerSecond(sumSeconds[index] ?? Number.NaN)}) | ${r.seconds.toFixed(2)} s (${mibPerSecond(r.seconds)}) | ${((cpSeconds[index] ?? Number.NaN) / r.seconds).toFixed(2)}× | ${r.rssGrowthMiB.toFixed(1)} MiB | ${r.healthzWorstMs.toFixed(0)} ms |`),
      '',
      `Median: offload ${mibPerSecond(offloadMedian)} against cp ${mibPerSecond(cpMedian)}, ${ratio.toFixed(2)}× cp (target ≥ 0.8×), and sha256sum alone ${mibPerSecond(median(sumSeconds))}; RSS growth at most ${Math.max(...runs.map((r) => r.rssGrowthMiB)).toFixed(1)} MiB (target ≤ 64 MiB); /healthz at worst ${Math.max(...runs.map((r) => r.healthzWorstMs)).toFixed(0)} ms while copying.`,
    ].join('\n');
  } finally {
    if (mounted) await run('umount', [target]).catch(() => undefined);
    await rm(work, { recursive: true, force: true });
    if (!root) await rm(target, { recursive: true, force: true });
  }
}
