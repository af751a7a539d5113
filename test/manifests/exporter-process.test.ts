import { afterEach, describe, expect, it, jest } from '@jest/globals';
import { spawn, type ChildProcess } from 'node:child_process';
import { access, mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { IDaemonSet } from 'kubernetes-models/apps/v1/DaemonSet';
import type { IServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor';
import { writeSampleArchive } from '../../src/demo/sample-archives.js';
import { findObject } from './support/kube-object.js';
import { loadTarget, ROOT, type TargetName } from './support/targets.js';

/**
 * Runs the built exporter the way the image and the DaemonSet start it: the Dockerfile's ENTRYPOINT
 * with the DaemonSet's arguments, only the host directory and listen address swapped for test ones.
 * Then probes and scrapes it on the paths the DaemonSet and ServiceMonitor use.
 */

/** Startup loads the Kubernetes client and scans the directory; poll this often, this many times. */
const POLL_INTERVAL_MS = 100;
const MAX_POLLS = 450;
/** A request the exporter does not answer is a failed poll, not a hung test. */
const REQUEST_TIMEOUT_MS = 5_000;
const NODE_NAME = 'test-node';

interface Started {
  readonly child: ChildProcess;
  readonly base: string;
  readonly stderr: () => string;
}

// Two real process starts, each loading the Kubernetes client and settling an archive.
jest.setTimeout(120_000);

let running: Started | undefined;
let scratch: string | undefined;

afterEach(async () => {
  if (running !== undefined && running.child.exitCode === null) {
    const exited = new Promise((resolve) => running?.child.once('exit', resolve));
    running.child.kill('SIGTERM');
    await exited;
  }
  running = undefined;
  if (scratch !== undefined) await rm(scratch, { recursive: true, force: true });
  scratch = undefined;
});

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  if (typeof address !== 'object' || address === null) throw new Error('no port');
  return address.port;
}

/** The Dockerfile's exec-form ENTRYPOINT, with the image's /app mapped onto this checkout. */
async function entrypoint(): Promise<string[]> {
  const dockerfile = await readFile(path.join(ROOT, 'Dockerfile'), 'utf8');
  const line = dockerfile.split('\n').filter((candidate) => candidate.startsWith('ENTRYPOINT ')).at(-1);
  const command = JSON.parse(line?.slice('ENTRYPOINT '.length) ?? 'null') as string[];
  return command.map((part) => (part.startsWith('/app/') ? path.join(ROOT, part.slice('/app/'.length)) : part));
}

function replaceFlag(args: readonly string[], flag: string, value: string): string[] {
  const index = args.indexOf(flag);
  if (index < 0 || index + 1 >= args.length) throw new Error(`DaemonSet args have no ${flag} value`);
  return args.map((arg, at) => (at === index + 1 ? value : arg));
}

async function startLikeDaemonSet(target: TargetName, checkpointDir: string): Promise<Started> {
  const daemonSet = findObject(await loadTarget(target), 'DaemonSet', 'checkpoint-exporter') as unknown as IDaemonSet;
  const container = daemonSet.spec?.template.spec?.containers[0];
  const port = await freePort();
  let args = container?.args ?? [];
  args = replaceFlag(args, '--checkpoint-dir', checkpointDir);
  // Never the host's: a directory beside the test's that does not exist (the kubelet's gate off).
  args = replaceFlag(args, '--pod-checkpoint-dir', `${checkpointDir}-pod-checkpoints`);
  args = replaceFlag(args, '--listen-address', `127.0.0.1:${port}`);
  const env: Record<string, string> = { PATH: process.env['PATH'] ?? '' };
  for (const variable of container?.env ?? []) {
    if (variable.valueFrom?.fieldRef?.fieldPath === 'spec.nodeName') env[variable.name] = NODE_NAME;
    else if (variable.valueFrom?.fieldRef?.fieldPath === 'metadata.namespace') env[variable.name] = daemonSet.metadata?.namespace ?? 'missing';
    else if (variable.value !== undefined) env[variable.name] = variable.value;
  }
  const [command = 'node', ...rest] = await entrypoint();
  await access(rest[0] ?? '').catch(() => {
    throw new Error(`${rest[0]} is missing: run \`npm run build\` (npm test does) before this test`);
  });
  const child = spawn(command === 'node' ? process.execPath : command, [...rest, ...args], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  running = { child, base: `http://127.0.0.1:${port}`, stderr: () => stderr };
  return running;
}

async function poll<T>(what: string, started: Started, attempt: () => Promise<T | undefined>): Promise<T> {
  for (let polls = 0; polls < MAX_POLLS; polls += 1) {
    if (started.child.exitCode !== null) throw new Error(`exporter exited with ${started.child.exitCode} while waiting for ${what}:\n${started.stderr()}`);
    const value = await attempt().catch(() => undefined);
    if (value !== undefined) return value;
    await new Promise((resolve) => setTimeout(resolve, POLL_INTERVAL_MS));
  }
  throw new Error(`gave up waiting for ${what}:\n${started.stderr()}`);
}

async function probePaths(): Promise<{ liveness: string; readiness: string; metrics: string }> {
  const objects = await loadTarget('install');
  const daemonSet = findObject(objects, 'DaemonSet', 'checkpoint-exporter') as unknown as IDaemonSet;
  const monitor = findObject(objects, 'ServiceMonitor', 'checkpoint-exporter') as unknown as IServiceMonitor;
  const container = daemonSet.spec?.template.spec?.containers[0];
  return {
    liveness: container?.livenessProbe?.httpGet?.path ?? 'missing',
    readiness: container?.readinessProbe?.httpGet?.path ?? 'missing',
    metrics: monitor.spec.endpoints?.[0]?.path ?? 'missing',
  };
}

function get(url: string): Promise<Response> {
  return fetch(url, { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
}

function sampleValue(exposition: string, series: string): number | undefined {
  const line = exposition.split('\n').find((candidate) => candidate.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('the exporter started as the DaemonSet starts it', () => {
  it.each([
    { target: 'install' as const, dryRun: 0 },
    { target: 'dryRun' as const, dryRun: 1 },
  ])('$target: becomes ready, stays live and exports the mounted directory (dry run $dryRun)', async ({ target, dryRun }) => {
    scratch = await mkdtemp(path.join(os.tmpdir(), 'checkpoint-daemonset-'));
    const hourAgo = new Date(Date.now() - 3_600_000);
    await writeSampleArchive(scratch, { namespace: 'shop', pod: 'cart-0', container: 'app', timestamp: hourAgo, mtime: hourAgo, runtime: 'cri-o' });
    const paths = await probePaths();
    const started = await startLikeDaemonSet(target, scratch);

    await poll('readiness', started, async () => ((await get(`${started.base}${paths.readiness}`)).status === 200 ? true : undefined));
    expect((await get(`${started.base}${paths.liveness}`)).status).toBe(200);

    const series = 'checkpoint_archives{namespace="shop",pod="cart-0",container="app"}';
    const exposition = await poll('the sample archive in /metrics', started, async () => {
      const text = await (await get(`${started.base}${paths.metrics}`)).text();
      return sampleValue(text, series) === 1 ? text : undefined;
    });
    expect(sampleValue(exposition, 'checkpoint_directory_present')).toBe(1);
    expect(sampleValue(exposition, 'checkpoint_retention_dry_run')).toBe(dryRun);
    // The ServiceMonitor adds `node`; an exporter-side node label would collide with it.
    expect(exposition).not.toMatch(/^checkpoint_\w+\{[^}]*\bnode="/m);
  });
});
