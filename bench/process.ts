/**
 * Process benchmark: the built binary a user runs (`node dist/cli/main.js serve`, default flags plus
 * --dry-run where nothing may be deleted), on generated directories of real tar archives, timed from
 * outside over HTTP and /proc, next to baselines measured in the same run on the same files.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { sampleArchiveName, writeSampleArchive } from '../src/demo/sample-archives.js';
import { forEachConcurrent } from '../src/concurrency.js';
import { archiveOptions, containerOf, writeDirectory, type DirectoryShape } from './directory.js';
import { checkViewLoad, measureViewLoad, VIEW_CLIENTS, type ViewLoadFigures } from './views.js';

const BINARY = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
const SMOKE = process.env['BENCH_SMOKE'] === '1';
const RUNS = Number(process.env['BENCH_RUNS'] ?? (SMOKE ? 1 : 3));
// BENCH_ARCHIVES=20000 runs one size alone (10 archives per container), to work on one figure.
const ONLY_ARCHIVES = Number(process.env['BENCH_ARCHIVES'] ?? 0);
const SIZES: readonly DirectoryShape[] = SMOKE
  ? [{ archives: 2_000, containers: 200 }]
  : ONLY_ARCHIVES > 0
    ? [{ archives: ONLY_ARCHIVES, containers: Math.max(1, Math.floor(ONLY_ARCHIVES / 10)) }]
    : [
      { archives: 20_000, containers: 2_000 },
      { archives: 100_000, containers: 10_000 },
    ];
const DEFAULT_SETTLE_MS = 2_000;
/** How long the clients pull the archives view; the smoke run only checks that the cap and the sharing work. */
const VIEW_LOAD_SECONDS = SMOKE ? 2 : 10;

const PYTHON_WALK = `
import os, sys, tarfile, json
d = sys.argv[1]; n = 0
for name in os.listdir(d):
    with tarfile.open(os.path.join(d, name)) as tf:
        for m in tf:
            if m.name == 'spec.dump':
                json.load(tf.extractfile(m)); n += 1; break
print(n)
`;
const NODE_LSTAT = `
const { readdir, lstat } = require('node:fs/promises');
(async () => { const d = process.argv[1]; const names = await readdir(d); let i = 0;
  await Promise.all(Array.from({ length: 64 }, async () => { while (i < names.length) await lstat(d + '/' + names[i++]); }));
  console.log(names.length); })();
`;

interface Stats {
  readonly min: number;
  readonly median: number;
  readonly max: number;
}

const statsOf = (values: readonly number[]): Stats => {
  const sorted = [...values].sort((a, b) => a - b);
  return { min: sorted[0] ?? NaN, median: sorted[Math.floor((sorted.length - 1) / 2)] ?? NaN, max: sorted[sorted.length - 1] ?? NaN };
};
const seconds = (ms: number): string => (ms >= 100_000 ? `${(ms / 1000).toFixed(0)} s` : `${(ms / 1000).toFixed(2)} s`);
const triple = (s: Stats, format: (v: number) => string): string => `${format(s.min)} / ${format(s.median)} / ${format(s.max)}`;
const mib = (kib: number): string => `${(kib / 1024).toFixed(0)} MiB`;
const sleep = (ms: number): Promise<void> => new Promise((wake) => setTimeout(wake, ms));

/** A command's cost: wall time from here, CPU (user + system) and peak RSS as the kernel counted them. */
interface Cost {
  readonly wallMs: number;
  readonly cpuMs: number;
  /** NaN where /usr/bin/time is missing. */
  readonly peakKiB: number;
}

const TIME = '/usr/bin/time';
/** Clock ticks per second of /proc's utime and stime (USER_HZ, 100 on every Linux architecture in use). */
const CLOCK_TICKS = 100;

/** CPU of the reaped children of this process so far (cutime + cstime of /proc/self/stat), in ms. */
async function childrenCpuMs(): Promise<number> {
  const fields = (await readFile('/proc/self/stat', 'utf8')).replace(/^.*\) /s, '').split(' ');
  // After the command name: field 3 is fields[0], so cutime (16) and cstime (17) are fields[13] and [14].
  return ((Number(fields[13]) + Number(fields[14])) * 1000) / CLOCK_TICKS;
}

/** CPU of a running process and all its threads (utime + stime of /proc/<pid>/stat), in ms. */
async function processCpuMs(pid: number): Promise<number> {
  const fields = (await readFile(`/proc/${pid}/stat`, 'utf8')).replace(/^.*\) /s, '').split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS;
}

async function timeCommand(command: string, args: readonly string[]): Promise<Cost> {
  const withTime = existsSync(TIME);
  const report = join(tmpdir(), `bench-time-${process.pid}.txt`);
  const [file, argv] = withTime ? [TIME, ['-f', '%U %S %M', '-o', report, command, ...args]] : [command, [...args]];
  const cpuBefore = await childrenCpuMs();
  const started = performance.now();
  await new Promise<void>((resolve, reject) => {
    const child = spawn(file, argv, { stdio: ['ignore', 'ignore', 'inherit'] });
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${command} exited with ${code}`))));
  });
  const wallMs = performance.now() - started;
  if (!withTime) return { wallMs, cpuMs: (await childrenCpuMs()) - cpuBefore, peakKiB: NaN };
  const [user, system, peak] = (await readFile(report, 'utf8')).trim().split('\n').pop()!.split(' ').map(Number) as [number, number, number];
  await rm(report, { force: true });
  return { wallMs, cpuMs: (user + system) * 1000, peakKiB: peak };
}

async function procStatus(pid: number, field: string): Promise<number> {
  const text = await readFile(`/proc/${pid}/status`, 'utf8');
  const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text);
  return match ? Number(match[1]) : NaN;
}

/** inotify watches held by a process: one `inotify wd:` line per watch in its fdinfo. */
async function inotifyWatches(pid: number): Promise<number> {
  let count = 0;
  for (const fd of await readdir(`/proc/${pid}/fdinfo`)) {
    const info = await readFile(`/proc/${pid}/fdinfo/${fd}`, 'utf8').catch(() => '');
    count += info.split('\n').filter((line) => line.startsWith('inotify wd:')).length;
  }
  return count;
}

interface Exporter {
  readonly child: ChildProcess;
  readonly url: string;
  readonly startedAt: number;
  stop(): Promise<void>;
}

/** Starts the binary on an ephemeral port and resolves once it listens (not once it is ready). */
async function startExporter(dir: string, extra: readonly string[]): Promise<Exporter> {
  const startedAt = performance.now();
  const child = spawn(process.execPath, [BINARY, 'serve', '--checkpoint-dir', dir, '--listen-address', '127.0.0.1:0', ...extra], { stdio: ['ignore', 'ignore', 'pipe'] });
  const url = await new Promise<string>((resolve, reject) => {
    let buffered = '';
    const onData = (chunk: Buffer): void => {
      buffered += chunk.toString('utf8');
      const match = /"url":"(http:[^"]+)"/.exec(buffered);
      if (match?.[1] !== undefined) {
        child.stderr?.off('data', onData);
        child.stderr?.resume();
        resolve(match[1]);
      }
      if (buffered.length > 1_000_000) buffered = buffered.slice(-10_000);
    };
    child.stderr?.on('data', onData);
    child.on('exit', (code) => reject(new Error(`exporter exited with ${code} before listening`)));
  });
  return {
    child,
    url,
    startedAt,
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

async function waitReady(exporter: Exporter): Promise<number> {
  for (;;) {
    const response = await fetch(`${exporter.url}readyz`).catch(() => undefined);
    if (response?.status === 200) return performance.now() - exporter.startedAt;
    await sleep(20);
  }
}

async function metric(exporter: Exporter, name: string): Promise<number> {
  const text = await (await fetch(`${exporter.url}metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line === undefined ? NaN : Number(line.split(' ')[1]);
}

async function until(what: string, check: () => Promise<boolean>, deadlineMs = 120_000): Promise<void> {
  const deadline = performance.now() + deadlineMs;
  while (!(await check())) {
    if (performance.now() > deadline) throw new Error(`benchmark: timed out waiting for ${what}`);
    await sleep(20);
  }
}

/** Writes `count` archives, each newer than everything generated, for the given container indexes. */
async function writeNewArchives(dir: string, containers: readonly number[], perContainer: number, baseMs: number): Promise<string[]> {
  const names: string[] = [];
  const jobs = containers.flatMap((c) => Array.from({ length: perContainer }, (_, n) => ({ c, n })));
  await forEachConcurrent(jobs, 32, async ({ c, n }) => {
    names.push(await writeSampleArchive(dir, archiveOptions(containerOf(c), new Date(baseMs + n * 1000))));
  });
  return names;
}

function archiveNameOf(containerIndex: number, nth: number): string {
  return sampleArchiveName(archiveOptions(containerOf(containerIndex), new Date(Date.parse('2026-01-01T00:00:00Z') + nth * 60_000)));
}

/** The figures the targets table is made of, per directory size. */
interface Figures {
  readyRatio?: number;
  readyMs?: number;
  readyCpuRatio?: number;
  rssMiB?: number;
  watches?: number;
  scrapeMedianMs?: number;
  scrapeWorstMs?: number;
  lagSeconds?: number;
  overLimitMs?: number;
  convergeMs?: number;
  overDeleted?: number;
  views?: ViewLoadFigures;
}

async function measureSize(shape: DirectoryShape, root: string, figures: Figures): Promise<string[]> {
  const dir = join(root, `dir-${shape.archives}`);
  process.stderr.write(`  generating ${shape.archives} archives of ${shape.containers} containers...\n`);
  await writeDirectory(dir, shape);
  const perContainer = shape.archives / shape.containers;
  const walkScript = join(root, 'walk.py');
  await writeFile(walkScript, PYTHON_WALK);

  // Interleaved, A B A B: each exporter start follows the baselines of its round, so a slow spell of the
  // shared machine falls on both sides instead of on one.
  process.stderr.write('  baselines and exporter starts, interleaved...\n');
  const find: Cost[] = [];
  const lstat: Cost[] = [];
  const python: Cost[] = [];
  const ready: Cost[] = [];
  const steadyKiB: number[] = [];
  const peaks: [string, number][] = [];
  let watches = NaN;
  let scrape: Stats | undefined;
  let scrapeWorst = NaN;
  let firstScrape = NaN;
  let lag = NaN;
  for (let run = 0; run < RUNS; run += 1) {
    find.push(await timeCommand('find', [dir, '-printf', '%s\\n']));
    lstat.push(await timeCommand(process.execPath, ['-e', NODE_LSTAT, dir]));
    python.push(await timeCommand('python3', [walkScript, dir]));
    const exporter = await startExporter(dir, ['--dry-run']);
    try {
      const wallMs = await waitReady(exporter);
      const pid = exporter.child.pid as number;
      // The CPU of every thread (the two identity workers included) and the peak so far, at readiness.
      ready.push({ wallMs, cpuMs: await processCpuMs(pid), peakKiB: await procStatus(pid, 'VmHWM') });
      watches = await inotifyWatches(pid);
      if (run === RUNS - 1) {
        // Steady state: after the first full retention run, with one scrape to render the cached lines.
        await until('the first retention run', async () => (await metric(exporter, 'checkpoint_retention_last_run_timestamp_seconds')) > 0);
        peaks.push(['the first retention run (dry run)', await procStatus(pid, 'VmHWM')]);
        const firstStarted = performance.now();
        await (await fetch(`${exporter.url}metrics`)).arrayBuffer();
        firstScrape = performance.now() - firstStarted;
        // Four scrapers at once, 10 rounds; the bodies are read as bytes, as Prometheus does.
        const latencies: number[] = [];
        for (let round = 0; round < 10; round += 1) {
          await Promise.all(
            Array.from({ length: 4 }, async () => {
              const started = performance.now();
              await (await fetch(`${exporter.url}metrics`)).arrayBuffer();
              latencies.push(performance.now() - started);
            }),
          );
        }
        scrape = statsOf(latencies);
        scrapeWorst = scrape.max;
        peaks.push(['the first scrape and 4 scrapers × 10 rounds', await procStatus(pid, 'VmHWM')]);
        // 200 archives arriving while serving: the event-loop lag maximum since the scrape before them.
        await metric(exporter, 'nodejs_eventloop_lag_max_seconds');
        const before = await metric(exporter, 'checkpoint_initial_scan_complete');
        if (before !== 1) throw new Error('benchmark: exporter not ready');
        // The last containers, away from those the retention figures below use.
        const arriving = Array.from({ length: Math.min(200, shape.containers / 2) }, (_, i) => shape.containers - 1 - i);
        await writeNewArchives(dir, arriving, 1, Date.now());
        await sleep(DEFAULT_SETTLE_MS + 1_000);
        await until('the new archives settled', async () => (await metric(exporter, 'checkpoint_pending_archives')) === 0);
        lag = await metric(exporter, 'nodejs_eventloop_lag_max_seconds');
        peaks.push([`${arriving.length} archives arriving while serving`, await procStatus(pid, 'VmHWM')]);
      }
      steadyKiB.push(await procStatus(pid, 'VmHWM'));
      // Last, so the peaks above are the idle ones: clients pulling the heaviest view over and over.
      if (run === RUNS - 1) {
        process.stderr.write(`  ${VIEW_CLIENTS} clients pulling /api/v1/archives...\n`);
        figures.views = await measureViewLoad(exporter.url, pid, VIEW_LOAD_SECONDS, SMOKE);
        if (SMOKE) checkViewLoad(figures.views);
      }
    } finally {
      await exporter.stop();
    }
  }

  const wall = (costs: readonly Cost[]): Stats => statsOf(costs.map((c) => c.wallMs));
  const cpu = (costs: readonly Cost[]): Stats => statsOf(costs.map((c) => c.cpuMs));
  const peak = (costs: readonly Cost[]): string => (costs.every((c) => Number.isNaN(c.peakKiB)) ? 'n/a' : mib(statsOf(costs.map((c) => c.peakKiB)).max));
  const vsPython = (costs: readonly Cost[], of: (costs: readonly Cost[]) => Stats): string => (of(costs).median / of(python).median).toFixed(3);
  figures.readyMs = wall(ready).median;
  figures.readyRatio = wall(ready).median / wall(python).median;
  figures.readyCpuRatio = cpu(ready).median / cpu(python).median;
  figures.rssMiB = statsOf(steadyKiB).max / 1024;
  figures.watches = watches;
  figures.scrapeMedianMs = scrape?.median;
  figures.scrapeWorstMs = scrapeWorst;
  figures.lagSeconds = lag;
  const row = (what: string, costs: readonly Cost[], bold = false): string => {
    const b = (text: string): string => (bold ? `**${text}**` : text);
    return `| ${b(what)} | ${triple(wall(costs), seconds)} | ${triple(cpu(costs), seconds)} | ${peak(costs)} | ${b(`${vsPython(costs, wall)}×`)} | ${b(`${vsPython(costs, cpu)}×`)} |`;
  };
  const lines = [
    `### ${shape.archives.toLocaleString('en-US')} archives of ${shape.containers.toLocaleString('en-US')} containers`,
    '',
    `${RUNS} round${RUNS === 1 ? '' : 's'}, each a run of every baseline followed by an exporter start (interleaved); min / median / max.`,
    'CPU is user + system time of every thread of the process (the exporter\'s two identity workers',
    'included; the Python walk is single-threaded), the exporter\'s counted up to `/readyz` 200. Peak RSS is',
    'the highest VmHWM of the rounds.',
    '',
    '| what | wall time | CPU (user + sys) | peak RSS | vs. Python walk, wall (median) | vs. Python walk, CPU (median) |',
    '| --- | ---: | ---: | ---: | ---: | ---: |',
    row("baseline: `find DIR -printf '%s\\n'`", find),
    row('baseline: Node.js readdir + lstat of every entry (64 in flight)', lstat),
    row('baseline: Python `tarfile` walk reading every spec.dump', python),
    row('exporter: start to `/readyz` 200', ready, true),
    '',
    '- Peak RSS (VmHWM) of the exporter at the end of each workload, one process (the last round), in order:',
    `  start to \`/readyz\` ${mib(ready[ready.length - 1]?.peakKiB ?? NaN)}; ${peaks.map(([what, kib]) => `${what} ${mib(kib)}`).join('; ')}${figures.views === undefined ? '' : `; ${VIEW_CLIENTS} clients pulling the archives view ${mib(figures.views.peakKiB)}`}.`,
    `- inotify watches held: ${watches}.`,
    `- \`/metrics\`, 4 concurrent scrapers × 10 rounds after the first retention run: median ${scrape?.median.toFixed(0)} ms, worst ${scrapeWorst.toFixed(0)} ms (the first scrape, which renders every container's lines: ${firstScrape.toFixed(0)} ms).`,
    `- ${Math.min(200, shape.containers / 2)} archives arriving while serving: \`nodejs_eventloop_lag_max_seconds\` ${lag.toFixed(3)}.`,
    ...viewLoadLines(figures.views),
  ];

  // Retention on the real thing (no --dry-run): every container is exactly at the default limit of 10.
  if (perContainer === 10) {
    const exporter = await startExporter(dir, []);
    try {
      await waitReady(exporter);
      await until('the start-up plan ran', async () => (await metric(exporter, 'checkpoint_retention_last_run_timestamp_seconds')) > 0);
      if (shape.archives <= 20_000 || SMOKE) {
        const oldest = join(dir, archiveNameOf(0, 0));
        if (!existsSync(oldest)) throw new Error(`benchmark: ${oldest} missing before the test`);
        const started = performance.now();
        await writeNewArchives(dir, [0], 1, Date.now());
        await until('the oldest archive of the container deleted', async () => !existsSync(oldest), 60_000);
        const ms = performance.now() - started;
        figures.overLimitMs = ms;
        lines.push(
          `- A new archive over its limit (no dry run): the oldest of its container gone after ${seconds(ms)} (settle time ${seconds(DEFAULT_SETTLE_MS)}; target: settle time + 3 s); peak RSS of that process ${mib(await procStatus(exporter.child.pid as number, 'VmHWM'))}.`,
        );
      }
      if (shape.archives >= 100_000 || SMOKE) {
        const landing = Array.from({ length: Math.min(100, shape.containers / 2 - 1) }, (_, i) => i + 1);
        const base = Date.now();
        const started = performance.now();
        const written = await writeNewArchives(dir, landing, 10, base);
        const expected = new Set(written);
        const converged = async (): Promise<boolean> => {
          for (const c of landing) for (let nth = 0; nth < perContainer; nth += 1) if (existsSync(join(dir, archiveNameOf(c, nth)))) return false;
          return true;
        };
        await until('the landing containers converged', converged, 120_000);
        const ms = performance.now() - started;
        const present = new Set(await readdir(dir));
        const overDeleted = [...expected].filter((name) => !present.has(name)).length;
        figures.convergeMs = ms;
        figures.overDeleted = overDeleted;
        lines.push(
          `- ${written.length.toLocaleString('en-US')} archives of ${landing.length} containers landing at once (no dry run): converged after ${seconds(ms)}; over-deleted: ${overDeleted} (every new archive kept, every older one of those containers gone); peak RSS of that process ${mib(await procStatus(exporter.child.pid as number, 'VmHWM'))}.`,
        );
      }
    } finally {
      await exporter.stop();
    }
  }
  await rm(dir, { recursive: true, force: true });
  return lines;
}

export async function runProcessBenchmark(): Promise<string> {
  if (!existsSync(BINARY)) throw new Error(`${BINARY} is missing: run npm run build first`);
  const root = await mkdtemp(join(tmpdir(), 'checkpoint-exporter-bench-'));
  try {
    const sections: string[] = [
      '## The exporter process',
      '',
      'The built binary with default flags (`serve --dry-run`, settle time 2 s, identity reads on worker threads),',
      'started on a generated directory of real tar archives laid out as CRI-O writes them (about 31 KiB each,',
      'spec.dump after the memory image), files in the page cache. Readiness is polled over HTTP every 20 ms;',
      'memory and inotify watches are read from /proc.',
      '',
    ];
    const bySize = new Map<number, Figures>();
    for (const shape of SIZES) {
      process.stderr.write(`process benchmark: ${shape.archives} archives\n`);
      const figures: Figures = {};
      sections.push(...(await measureSize(shape, root, figures)), '');
      bySize.set(shape.archives, figures);
    }
    return [...targetsTable(bySize), ...sections].join('\n');
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

function viewLoadLines(v: ViewLoadFigures | undefined): string[] {
  if (v === undefined) return [];
  const growth = (v.peakKiB - v.idlePeakKiB) / 1024;
  return [
    `- ${VIEW_CLIENTS} clients pulling \`/api/v1/archives\` (${(v.bodyBytes / 2 ** 20).toFixed(1)} MiB) over and over for ${v.seconds} s, a refused one retrying after 100 ms:` +
      ` ${v.complete} complete bodies, ${v.refused} answered 503 with Retry-After (${v.refusedCounted} counted by the exporter), ${v.broken} broken, ${v.serializations} serialization.` +
      ` \`/healthz\` every 50 ms meanwhile: median ${v.healthzMedianMs.toFixed(0)} ms, worst ${v.healthzWorstMs.toFixed(0)} ms (just before, with no client: median ${v.idleHealthzMedianMs.toFixed(0)} ms, worst ${v.idleHealthzWorstMs.toFixed(0)} ms); \`/metrics\` worst ${v.metricsWorstMs.toFixed(0)} ms.` +
      ` RSS peak ${(v.peakKiB / 1024).toFixed(0)} MiB, ${growth.toFixed(0)} MiB over the idle peak of that run (${(v.idlePeakKiB / 1024).toFixed(0)} MiB).`,
  ];
}

/** The issue's targets next to the figures of this run: met, or not (and then the text below says why). */
function targetsTable(bySize: ReadonlyMap<number, Figures>): string[] {
  const sizes = [...bySize.keys()].sort((a, b) => a - b);
  const small = bySize.get(sizes[0] ?? 0) ?? {};
  const large = bySize.get(sizes[sizes.length - 1] ?? 0) ?? {};
  const n = (archives: number | undefined): string => (archives ?? 0).toLocaleString('en-US');
  // null: a figure to read beside the others, with no target of its own.
  const verdict = (ok: boolean | undefined | null): string => (ok === null ? '' : ok === undefined ? 'not measured' : ok ? 'met' : '**not met**');
  const fmt = (value: number | undefined, digits: number, unit: string): string => (value === undefined || Number.isNaN(value) ? 'n/a' : `${value.toFixed(digits)}${unit}`);
  const rows: [string, string, string, boolean | undefined | null][] = [
    [`${n(sizes[0])} archives: start to \`/readyz\` 200`, '≤ 0.5× the Python walk (aim 0.25×)', `${fmt(small.readyRatio, 2, '×')} (${fmt((small.readyMs ?? NaN) / 1000, 2, ' s')})`, small.readyRatio === undefined ? undefined : small.readyRatio <= 0.5],
    [`${n(sizes[sizes.length - 1])} archives: start to \`/readyz\` 200`, '≤ 0.2× the Python walk', `${fmt(large.readyRatio, 2, '×')} (${fmt((large.readyMs ?? NaN) / 1000, 2, ' s')})`, large.readyRatio === undefined ? undefined : large.readyRatio <= 0.2],
    [`${n(sizes[sizes.length - 1])} archives: CPU (user + sys) to \`/readyz\` 200`, 'none: the wall-time ratio above is on two threads, this one counts both', fmt(large.readyCpuRatio, 2, '× the Python walk\'s CPU'), null],
    [`RSS at ${n(sizes[sizes.length - 1])} archives (peak)`, '≤ 256 MiB', fmt(large.rssMiB, 0, ' MiB'), large.rssMiB === undefined ? undefined : large.rssMiB <= 256],
    ['inotify watches held', '≤ 4, whatever the number of archives', `${large.watches ?? 'n/a'}`, large.watches === undefined ? undefined : large.watches <= 4],
    [`\`/metrics\` at ${n(sizes[sizes.length - 1])} archives, 4 concurrent scrapers`, 'median ≤ 250 ms, worst ≤ 500 ms', `median ${fmt(large.scrapeMedianMs, 0, ' ms')}, worst ${fmt(large.scrapeWorstMs, 0, ' ms')}`, large.scrapeMedianMs === undefined ? undefined : large.scrapeMedianMs <= 250 && (large.scrapeWorstMs ?? Infinity) <= 500],
    [`archives arriving while serving ${n(sizes[sizes.length - 1])}`, '`nodejs_eventloop_lag_max_seconds` ≤ 0.1', fmt(large.lagSeconds, 3, ' s'), large.lagSeconds === undefined ? undefined : large.lagSeconds <= 0.1],
    [
      `${VIEW_CLIENTS} clients pulling \`/api/v1/archives\` of ${n(sizes[sizes.length - 1])} archives`,
      'worst `/healthz` ≤ 1 s, RSS ≤ 64 MiB over the idle peak',
      large.views === undefined ? 'n/a' : `worst ${fmt(large.views.healthzWorstMs, 0, ' ms')}, RSS +${fmt((large.views.peakKiB - large.views.idlePeakKiB) / 1024, 0, ' MiB')} (peak ${fmt(large.views.peakKiB / 1024, 0, ' MiB')})`,
      large.views === undefined ? undefined : large.views.healthzWorstMs <= 1_000 && large.views.peakKiB - large.views.idlePeakKiB <= 64 * 1024 && large.views.broken === 0,
    ],
    [`a new archive over its limit, ${n(sizes[0])} present`, 'oldest gone within settle time + 3 s', fmt((small.overLimitMs ?? NaN) / 1000, 2, ' s'), small.overLimitMs === undefined ? undefined : small.overLimitMs <= DEFAULT_SETTLE_MS + 3_000],
    [`archives of many containers landing at once on ${n(sizes[sizes.length - 1])}`, 'converged within 10 s, zero over-deletion', `${fmt((large.convergeMs ?? NaN) / 1000, 2, ' s')}, over-deleted ${large.overDeleted ?? 'n/a'}`, large.convergeMs === undefined ? undefined : large.convergeMs <= 10_000 && large.overDeleted === 0],
  ];
  return [
    '## Targets',
    '',
    '| figure | target | this run | |',
    '| --- | --- | --- | --- |',
    ...rows.map(([figure, target, value, ok]) => `| ${figure} | ${target} | ${value} | ${verdict(ok)} |`),
    '',
  ];
}
