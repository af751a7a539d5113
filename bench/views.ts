/**
 * Clients pulling the heaviest JSON view (`/api/v1/archives`) over and over from the built binary, while
 * the probes and the metrics are polled as the kubelet and Prometheus would: how late they answer, how
 * much memory the pulls add over the idle peak, and whether the cap on views streaming at once holds.
 */
import { execFile } from 'node:child_process';
import { Agent, get, type IncomingMessage } from 'node:http';
import { readFile } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';

/** Concurrent clients pulling the view; a refused one waits this long, not the Retry-After it is given. */
export const VIEW_CLIENTS = 16;
const RETRY_MS = 100;
const HEALTHZ_EVERY_MS = 50;
const METRICS_EVERY_MS = 1_000;
const RSS_EVERY_MS = 100;

/**
 * The probes run in a process of their own, as the kubelet and Prometheus do: timed from the process
 * that also receives sixteen bodies, a late answer would be partly the benchmark's own event loop.
 * Prints the latencies of `/healthz` (every 50 ms) and `/metrics` (every second) as JSON.
 */
const PROBE_SCRIPT = `
const http = require('node:http');
const [base, ms] = [process.argv[1], Number(process.argv[2])];
const agent = new http.Agent({ keepAlive: true, maxSockets: 2 });
const deadline = performance.now() + ms;
const sleep = (t) => new Promise((r) => setTimeout(r, t));
const timed = (path) => new Promise((resolve, reject) => {
  const started = performance.now();
  http.get(base + path, { agent }, (res) => {
    res.resume();
    res.on('end', () => (res.statusCode === 200 ? resolve(performance.now() - started) : reject(new Error(path + ' answered ' + res.statusCode))));
  }).on('error', reject);
});
const loop = async (path, every, out) => { while (performance.now() < deadline) { out.push(await timed(path)); await sleep(every); } };
const healthz = [], metrics = [];
Promise.all([loop('healthz', ${HEALTHZ_EVERY_MS}, healthz), loop('metrics', ${METRICS_EVERY_MS}, metrics)]).then(
  () => { process.stdout.write(JSON.stringify({ healthz, metrics })); agent.destroy(); },
  (error) => { console.error(String(error)); process.exit(1); },
);
`;

function probe(base: string, ms: number): Promise<{ healthz: number[]; metrics: number[] }> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, ['-e', PROBE_SCRIPT, base, String(ms)], (error, stdout) => (error ? reject(error) : resolve(JSON.parse(stdout) as { healthz: number[]; metrics: number[] })));
  });
}

const median = (values: readonly number[]): number => [...values].sort((a, b) => a - b)[Math.floor((values.length - 1) / 2)] ?? NaN;
const worst = (values: readonly number[]): number => Math.max(...values);

export interface ViewLoadFigures {
  readonly seconds: number;
  /** Complete 200 bodies, all of one length (the view does not change during the run). */
  readonly complete: number;
  readonly bodyBytes: number;
  /** 503 answers, each with Retry-After, and what the exporter counted. */
  readonly refused: number;
  readonly refusedCounted: number;
  readonly serializations: number;
  /** Responses that broke or had another length: 0 expected. */
  readonly broken: number;
  readonly healthzWorstMs: number;
  readonly healthzMedianMs: number;
  /** The same probe just before, with no client pulling: the baseline of this machine and moment. */
  readonly idleHealthzWorstMs: number;
  readonly idleHealthzMedianMs: number;
  readonly metricsWorstMs: number;
  readonly idlePeakKiB: number;
  readonly peakKiB: number;
}

async function procStatus(pid: number, field: string): Promise<number> {
  const text = await readFile(`/proc/${pid}/status`, 'utf8');
  const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text);
  return match ? Number(match[1]) : NaN;
}

const sleep = (ms: number): Promise<void> => new Promise((wake) => setTimeout(wake, ms));

interface Pulled {
  readonly status: number;
  readonly bytes: number;
  readonly retryAfter: string | undefined;
  readonly text?: string;
  readonly broken: boolean;
}

/** One GET, the body counted and dropped (or kept when `keep`), as a client that only checks it got all of it. */
function pull(url: string, agent: Agent, keep: boolean): Promise<Pulled> {
  return new Promise((resolve) => {
    const request = get(url, { agent }, (res: IncomingMessage) => {
      let bytes = 0;
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => {
        bytes += chunk.length;
        if (keep) chunks.push(chunk);
      });
      const retryAfter = res.headers['retry-after'];
      const done = (broken: boolean): void =>
        resolve({ status: res.statusCode ?? 0, bytes, retryAfter, broken, ...(keep ? { text: Buffer.concat(chunks).toString('utf8') } : {}) });
      res.on('end', () => done(!res.complete));
      res.on('error', () => done(true));
      res.on('aborted', () => done(true));
    });
    request.on('error', () => resolve({ status: 0, bytes: 0, retryAfter: undefined, broken: true }));
  });
}

async function counter(base: string, agent: Agent, name: string): Promise<number> {
  const text = (await pull(`${base}metrics`, agent, true)).text ?? '';
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line === undefined ? NaN : Number(line.split(' ')[1]);
}

/**
 * VIEW_CLIENTS clients pull `/api/v1/archives` for `seconds`, each starting again as soon as a body is
 * complete (or RETRY_MS after a 503), while `/healthz` is asked every 50 ms and `/metrics` every second.
 * `check` keeps the bodies and verifies that they are one and the same JSON document (small views only).
 */
export async function measureViewLoad(base: string, pid: number, seconds: number, check: boolean): Promise<ViewLoadFigures> {
  const pullers = new Agent({ keepAlive: true, maxSockets: VIEW_CLIENTS });
  const probes = new Agent({ keepAlive: true, maxSockets: 2 });
  const serializationsBefore = await counter(base, probes, 'checkpoint_http_view_serializations_total{view="archives"}');
  const refusedBefore = await counter(base, probes, 'checkpoint_http_view_requests_rejected_total{view="archives"}');
  const idle = await probe(base, Math.min(seconds, 3) * 1000);
  const idlePeakKiB = await procStatus(pid, 'VmHWM');
  const deadline = performance.now() + seconds * 1000;
  let complete = 0;
  let refused = 0;
  let broken = 0;
  let bodyBytes = 0;
  let bodyText: string | undefined;

  const clients = Array.from({ length: VIEW_CLIENTS }, async () => {
    while (performance.now() < deadline) {
      const result = await pull(`${base}api/v1/archives`, pullers, check);
      if (result.status === 503 && result.retryAfter !== undefined && !result.broken) {
        refused += 1;
        await sleep(RETRY_MS);
        continue;
      }
      bodyBytes ||= result.bytes;
      if (check && result.text !== undefined && !result.broken) {
        bodyText ??= result.text;
        JSON.parse(result.text);
      }
      const same = result.bytes === bodyBytes && (!check || result.text === bodyText);
      if (result.status !== 200 || result.broken || !same) broken += 1;
      else complete += 1;
    }
  });
  const probing = probe(base, seconds * 1000);
  let peakKiB = idlePeakKiB;
  const sampling = (async () => {
    while (performance.now() < deadline) {
      peakKiB = Math.max(peakKiB, await procStatus(pid, 'VmRSS'));
      await sleep(RSS_EVERY_MS);
    }
  })();
  const [loaded] = await Promise.all([probing, ...clients, sampling]);
  peakKiB = Math.max(peakKiB, await procStatus(pid, 'VmHWM'));
  const serializations = (await counter(base, probes, 'checkpoint_http_view_serializations_total{view="archives"}')) - serializationsBefore;
  const refusedCounted = (await counter(base, probes, 'checkpoint_http_view_requests_rejected_total{view="archives"}')) - refusedBefore;
  pullers.destroy();
  probes.destroy();
  return {
    seconds,
    complete,
    bodyBytes,
    refused,
    refusedCounted,
    serializations,
    broken,
    healthzWorstMs: worst(loaded.healthz),
    healthzMedianMs: median(loaded.healthz),
    idleHealthzWorstMs: worst(idle.healthz),
    idleHealthzMedianMs: median(idle.healthz),
    metricsWorstMs: worst(loaded.metrics),
    idlePeakKiB,
    peakKiB,
  };
}

/** What the smoke run insists on: the cap and the sharing work, whatever the timings. */
export function checkViewLoad(figures: ViewLoadFigures): void {
  const problems: string[] = [];
  if (figures.complete === 0) problems.push('no complete body');
  if (figures.broken > 0) problems.push(`${figures.broken} broken or different bodies`);
  if (figures.refused !== figures.refusedCounted) problems.push(`${figures.refused} refusals seen, ${figures.refusedCounted} counted`);
  if (figures.serializations !== 1) problems.push(`${figures.serializations} serializations of an unchanged view (1 expected)`);
  if (problems.length > 0) throw new Error(`benchmark: the JSON views under load: ${problems.join('; ')}`);
}
