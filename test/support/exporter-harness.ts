import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { startExporter, type RunningExporter } from '../../src/daemon/exporter.js';
import { parsePolicyYaml } from '../../src/retention/policy-document.js';

export interface ExporterHarness {
  readonly dir: string;
  readonly exporter: RunningExporter;
  metrics(): Promise<string>;
  json<T>(path: string): Promise<T>;
}

export interface HarnessOptions {
  readonly dryRun?: boolean;
  readonly configPath?: string;
  readonly kubeconfigPath?: string;
  readonly resyncIntervalMs?: number;
}

/** Runs the real exporter in-process on `dir`, on a free loopback port; `cleanups` receives its stop. */
export async function startHarness(dir: string, cleanups: (() => Promise<void>)[], opts: HarnessOptions = {}): Promise<ExporterHarness> {
  let initialPolicy: ReturnType<typeof parsePolicyYaml> = { ok: true, value: [] };
  if (opts.configPath) initialPolicy = parsePolicyYaml(await readFile(opts.configPath, 'utf8'), opts.configPath);
  if (!initialPolicy.ok) throw new Error(initialPolicy.reason);
  const exporter = await startExporter({
    checkpointDirectory: dir,
    listenAddress: { host: '127.0.0.1', port: 0 },
    configPath: opts.configPath,
    initialPolicy: initialPolicy.value,
    dryRun: opts.dryRun ?? false,
    resyncIntervalMs: opts.resyncIntervalMs ?? 60_000,
    settleTimeMs: 150,
    kubeconfigPath: opts.kubeconfigPath,
    nodeName: 'node-a',
    env: {},
    version: 'test',
    logger: pino({ level: 'silent' }),
  });
  cleanups.push(() => exporter.stop());
  return {
    dir,
    exporter,
    metrics: async () => (await fetch(`${exporter.url}metrics`)).text(),
    json: async <T>(path: string) => (await (await fetch(`${exporter.url}${path}`)).json()) as T,
  };
}

/** A temp directory removed by `cleanups`. */
export async function tempDirectory(cleanups: (() => Promise<void>)[], prefix = 'exporter-it-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}
