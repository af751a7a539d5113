/**
 * Restart benchmark: the built binary with default flags (plus --state-dir, and --dry-run so nothing is
 * deleted) on a generated directory, started four ways in the same run: without and with the persisted
 * index, each on a cold page cache (every archive evicted with posix_fadvise DONTNEED first) and a warm
 * one. Measured from outside: time to /readyz 200, CPU seconds of the process up to then, peak RSS
 * (VmHWM), the exporter's count of identity reads, the scrape's size and series, and, on request
 * (BENCH_STRACE=1), strace's count of archives opened.
 *
 *   npm run bench:restart -- [--archives 100000] [--containers 10000] [--flags "..."]
 *
 * BENCH_KEEP_DIR=path reuses (or leaves) a generated directory there, for several sizes in a row.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { writeDirectory } from './directory.js';

const BINARY = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
const arg = (name: string, fallback: string): string => {
  const at = process.argv.indexOf(`--${name}`);
  return at >= 0 ? (process.argv[at + 1] ?? fallback) : fallback;
};
const ARCHIVES = Number(arg('archives', '100000'));
const CONTAINERS = Number(arg('containers', String(Math.max(1, Math.floor(ARCHIVES / 10)))));
const EXTRA = arg('flags', '').split(' ').filter((flag) => flag !== '');
const STRACE = process.env['BENCH_STRACE'] === '1';

const EVICT = `
import os, sys
d = sys.argv[1]
for name in os.listdir(d):
    fd = os.open(os.path.join(d, name), os.O_RDONLY)
    # Dirty pages (archives just written) are not dropped: write them back first.
    try: os.fdatasync(fd); os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally: os.close(fd)
`;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Pages of the directory's archives still in the page cache, in KiB (fincore), or NaN without it. */
function cachedKiB(dir: string, sample: readonly string[]): number {
  const result = spawnSync('fincore', ['--bytes', '--noheadings', '--output', 'RES', ...sample.map((name) => join(dir, name))], { encoding: 'utf8' });
  if (result.status !== 0) return NaN;
  return result.stdout.split('\n').filter((line) => line.trim() !== '').reduce((sum, line) => sum + Number(line.trim()), 0) / 1024;
}

async function cpuSeconds(pid: number): Promise<number> {
  const fields = (await readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1]?.split(' ') ?? [];
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

async function vmHwmMiB(pid: number): Promise<number> {
  const match = /^VmHWM:\s+(\d+) kB/m.exec(await readFile(`/proc/${pid}/status`, 'utf8'));
  return match ? Number(match[1]) / 1024 : NaN;
}

interface Run {
  readonly label: string;
  readonly readySeconds: number;
  readonly cpuSeconds: number;
  readonly peakMiB: number;
  readonly reads: number;
  readonly reused: number;
  readonly opened: number | undefined;
  readonly scrapeBytes: number;
  readonly series: number;
}

function valueOf(text: string, name: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line === undefined ? NaN : Number(line.split(' ')[1]);
}

async function startAndMeasure(label: string, dir: string, stateDir: string | undefined, more: readonly string[] = []): Promise<Run> {
  const flags = ['serve', '--checkpoint-dir', dir, '--listen-address', '127.0.0.1:0', '--dry-run', ...(stateDir === undefined ? [] : ['--state-dir', stateDir]), ...EXTRA, ...more];
  const straceLog = join(tmpdir(), `restart-strace-${process.pid}.log`);
  const started = performance.now();
  const child: ChildProcess = STRACE
    ? spawn('strace', ['-f', '-qq', '-e', 'trace=openat', '-o', straceLog, process.execPath, BINARY, ...flags], { stdio: ['ignore', 'ignore', 'pipe'] })
    : spawn(process.execPath, [BINARY, ...flags], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    if (log.length < 100_000) log += chunk.toString('utf8');
  });
  try {
    let url: string | undefined;
    while (url === undefined) {
      url = /"url":"(http:[^"]+)"/.exec(log)?.[1];
      if (child.exitCode !== null) throw new Error(`exporter exited: ${log}`);
      await sleep(10);
    }
    for (;;) {
      const response = await fetch(`${url}readyz`).catch(() => undefined);
      if (response?.status === 200) break;
      await sleep(20);
    }
    const readySeconds = (performance.now() - started) / 1000;
    // Under strace the traced process is strace's child.
    const pid = STRACE ? Number(spawnSync('pgrep', ['-P', String(child.pid), '-n'], { encoding: 'utf8' }).stdout.trim()) : (child.pid as number);
    const cpu = await cpuSeconds(pid);
    // The per-container text is rendered in the background after a rebuild: the second scrape is the steady one.
    await (await fetch(`${url}metrics`)).text();
    const text = await (await fetch(`${url}metrics`)).text();
    const run = {
      label,
      readySeconds,
      cpuSeconds: cpu,
      peakMiB: await vmHwmMiB(pid),
      reads: valueOf(text, 'checkpoint_archive_reads_total'),
      reused: valueOf(text, 'checkpoint_index_reused_total'),
      scrapeBytes: Buffer.byteLength(text),
      series: text.split('\n').filter((line) => line !== '' && !line.startsWith('#')).length,
    };
    await stop(child);
    const opened = STRACE ? (await readFile(straceLog, 'utf8')).split('\n').filter((line) => /openat\(.*\.tar"/.test(line) && !line.includes('= -1')).length : undefined;
    return { ...run, opened };
  } finally {
    await stop(child);
    await rm(straceLog, { force: true });
  }
}

function stop(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

function evict(dir: string): void {
  const result = spawnSync('python3', ['-c', EVICT, dir], { stdio: 'inherit' });
  if (result.status !== 0) throw new Error('evicting the archives from the page cache failed');
}

async function main(): Promise<void> {
  if (!existsSync(BINARY)) throw new Error(`${BINARY} is missing: npm run build first`);
  const kept = process.env['BENCH_KEEP_DIR'];
  const root = await mkdtemp(join(tmpdir(), 'checkpoint-restart-bench-'));
  const dir = kept ?? join(root, 'archives');
  try {
    if (!existsSync(dir) || (await readdir(dir)).length !== ARCHIVES) {
      process.stderr.write(`  writing ${ARCHIVES} archives of ${CONTAINERS} containers...\n`);
      await rm(dir, { recursive: true, force: true });
      await mkdir(dir, { recursive: true });
      await writeDirectory(dir, { archives: ARCHIVES, containers: CONTAINERS });
    }
    const sample = (await readdir(dir)).slice(0, 200);
    const state = join(root, 'state');
    const runs: Run[] = [];
    const cold = async (label: string, stateDir: string | undefined): Promise<void> => {
      evict(dir);
      process.stderr.write(`  ${label} (sample of 200 archives: ${cachedKiB(dir, sample).toFixed(0)} KiB cached after eviction)...\n`);
      runs.push(await startAndMeasure(label, dir, stateDir));
    };
    const warm = async (label: string, stateDir: string | undefined): Promise<void> => {
      process.stderr.write(`  ${label}...\n`);
      runs.push(await startAndMeasure(label, dir, stateDir));
    };
    await mkdir(state, { recursive: true });
    // The first start writes the index on its clean stop; the others find it.
    await cold('cold cache, no index (first start, writes the index)', state);
    await cold('cold cache, with the index', state);
    await warm('warm cache, no index', undefined);
    await warm('warm cache, with the index', state);
    // Series per --container-metrics level: warm starts from the index, one per level.
    for (const level of ['counts', 'none']) {
      process.stderr.write(`  warm, with the index, --container-metrics ${level}...\n`);
      runs.push(await startAndMeasure(`warm cache, with the index, --container-metrics ${level}`, dir, state, ['--container-metrics', level]));
    }
    const first = runs[0] as Run;
    const lines = [
      `${ARCHIVES.toLocaleString('en-US')} archives of ${CONTAINERS.toLocaleString('en-US')} containers${EXTRA.length > 0 ? ` (${EXTRA.join(' ')})` : ''}:`,
      '',
      '| start | ready (s) | vs. the first | CPU (s) | peak RSS (MiB) | archives read | from the index | scrape (series / bytes) |' + (STRACE ? ' .tar opened (strace) |' : ''),
      '|---|---|---|---|---|---|---|---|' + (STRACE ? '---|' : ''),
      ...runs.map(
        (run) =>
          `| ${run.label} | ${run.readySeconds.toFixed(2)} | ${(run.readySeconds / first.readySeconds).toFixed(2)}x | ${run.cpuSeconds.toFixed(2)} | ${run.peakMiB.toFixed(0)} | ${run.reads} | ${Number.isNaN(run.reused) ? 0 : run.reused} | ${run.series.toLocaleString('en-US')} / ${(run.scrapeBytes / 1e6).toFixed(1)} MB |` +
          (STRACE ? ` ${run.opened} |` : ''),
      ),
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

await main();
