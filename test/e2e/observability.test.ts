/**
 * The exporter, a real Prometheus and a real Alertmanager on loopback, over a small tmpfs checkpoint
 * directory: the metrics pass promtool, every dashboard query (annotations included) finds data, a
 * deletion shows as an annotation, and a full directory pages.
 */
import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, statfs, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import yaml from 'js-yaml';
import { renderRulesYaml } from '../../alerts/render.js';
import { buildAlertRuleGroups, DEFAULT_RUNBOOK_BASE_URL, SCRAPE_JOB } from '../../alerts/rules.js';
import { buildDashboards } from '../../dashboards/index.js';
import { pinFileNameOf } from '../../src/archive/archive-name.js';
import { writeSampleArchive, type SampleArchiveOptions } from '../../src/demo/sample-archives.js';
import { writeSamplePodArchive } from '../../src/demo/sample-pod-archives.js';
import { canMountTmpfs, findBinary } from '../support/binaries.js';
import { interpolate, listAnnotationQueries, listLabelVariables, listPanelQueries } from '../dashboards/queries.js';
import {
  findFreePort,
  labelValues,
  queryInstant,
  queryRange,
  startAlertmanager,
  startPrometheus,
  startProcess,
  startWebhookReceiver,
  waitFor,
  waitForHttpOk,
  type ManagedProcess,
  type WebhookReceiver,
} from '../support/prometheus.js';

const run = promisify(execFile);
const root = fileURLToPath(new URL('../..', import.meta.url));
const exporterMain = path.join(root, 'dist/cli/main.js');

const prometheusBinary = findBinary('prometheus', 'prometheus');
const promtoolBinary = findBinary('promtool', 'prometheus');
const alertmanagerBinary = findBinary('prometheus-alertmanager', 'prometheus-alertmanager');
const runnable = prometheusBinary !== undefined && promtoolBinary !== undefined && alertmanagerBinary !== undefined && canMountTmpfs();

/** Small enough to fill in a moment, large enough that the seeded archives leave it far from full. */
const TMPFS_BYTES = 4 * 1024 * 1024;
/** Filling aims at 2 % free and stops anywhere under the 3 % critical mark; tmpfs pages and tar blocks round sizes. */
const FILL_TARGET_AVAIL_RATIO = 0.02;
const FILL_STOP_AVAIL_RATIO = 0.029;
/** The smallest filler payload, for the last step when an estimate left the directory just above the stop mark. */
const MIN_FILL_PAYLOAD_BYTES = 4 * 1024;
/** Keeps each filler archive well under the 1Mi per-archive limit so only the filesystem alerts care. */
const FILL_CHUNK_BYTES = 256 * 1024;
/** Headers, the small images, config.dump, spec.dump and the rootfs diff around the payload (about 24 KiB). */
const ARCHIVE_OVERHEAD_BYTES = 32 * 1024;
/** Scales the production `for:` durations so 1h becomes 4s: long enough to pass through pending, short enough to wait for. */
const FOR_SCALE = 1 / 900;
const NODE = 'e2e-node';
/**
 * What Grafana would use for $__rate_interval at a 1s scrape interval is 4s; a little more keeps at least
 * two samples in every window even when a scrape is late.
 */
const RATE_INTERVAL = '10s';
/** Bounds for waiting on real processes; generous because they only fail a broken setup, never a slow one. */
const START_TIMEOUT_MS = 60_000;
const DATA_TIMEOUT_MS = 60_000;
const ALERT_TIMEOUT_MS = 90_000;

/** The container the Container dashboard is opened on: over its count limit, so one archive is deleted. */
const FOCUS = { node: NODE, namespace: 'shop', pod: 'web-0', container: 'nginx' };
/**
 * Disk-pressure marks, so the marks metrics exist for the usage panel's lines. Above anything the test
 * reaches: filling stops near 98 % used, and the tmpfs cannot go past 100 %; no disk-pressure deletion.
 */
const DISK_PRESSURE = { highThresholdPercent: 99.5, lowThresholdPercent: 99 };

const POLICY = (checkpointDirectory: string): string =>
  yaml.dump({
    apiVersion: 'criu.org/v1',
    kind: 'CheckpointRestoreOperator',
    metadata: { name: 'e2e' },
    spec: {
      checkpointDirectory,
      globalPolicy: { maxCheckpointsPerContainer: 10, maxCheckpointSize: '1Mi', maxCheckpointAge: '30d' },
      containerPolicies: [
        { namespace: 'shop', pod: 'web-0', container: 'nginx', maxCheckpoints: 2, maxCheckpointSize: '512Ki', maxTotalSize: '1Mi', maxCheckpointAge: '7d' },
        { namespace: 'shop', pod: 'db-0', container: 'postgres', maxCheckpoints: 1 },
      ],
      diskPressure: DISK_PRESSURE,
    },
  });

interface Environment {
  readonly work: string;
  readonly checkpoints: string;
  mounted: boolean;
  readonly processes: ManagedProcess[];
  webhook: WebhookReceiver | undefined;
  exporterUrl: string;
  prometheusUrl: string;
  /** When Prometheus started (epoch ms), to bound range queries to what it has seen. */
  startedAtMs: number;
  readonly archives: { deletedByCount: string };
}

const env: Environment = {
  work: '',
  checkpoints: '',
  mounted: false,
  processes: [],
  webhook: undefined,
  exporterUrl: '',
  prometheusUrl: '',
  startedAtMs: 0,
  archives: { deletedByCount: '' },
};

function minutesAgo(minutes: number): Date {
  return new Date(Date.now() - minutes * 60_000);
}

async function seedCheckpointDirectory(dir: string): Promise<void> {
  const write = (options: SampleArchiveOptions): Promise<string> => writeSampleArchive(dir, options);
  // Three archives against a limit of two: the oldest goes, reason `count`.
  env.archives.deletedByCount = await write({ ...FOCUS, timestamp: minutesAgo(30), runtime: 'cri-o' });
  await write({ ...FOCUS, timestamp: minutesAgo(20), runtime: 'cri-o' });
  await write({ ...FOCUS, timestamp: minutesAgo(10), runtime: 'cri-o' });
  // Two pinned archives against a limit of one: the limit is unsatisfiable.
  for (const minutes of [25, 15]) {
    const name = await write({ namespace: 'shop', pod: 'db-0', container: 'postgres', timestamp: minutesAgo(minutes), runtime: 'containerd' });
    await writeFile(path.join(dir, pinFileNameOf(name)), '');
  }
  // No Kubernetes annotations in spec.dump: unidentified.
  await write({ namespace: 'legacy', pod: 'old-app', container: 'app', timestamp: minutesAgo(40), runtime: 'none' });
  // Not an archive at all.
  await writeFile(path.join(dir, 'notes.txt'), 'kept by hand\n');
}

/** Writes pinned archives, each its own container, until less than FILL_STOP_AVAIL_RATIO of the tmpfs is free. */
async function fillCheckpointDirectory(dir: string): Promise<void> {
  for (let index = 0; ; index += 1) {
    const stats = await statfs(dir);
    const size = stats.blocks * stats.bsize;
    const avail = stats.bavail * stats.bsize;
    if (avail < size * FILL_STOP_AVAIL_RATIO) return;
    const wanted = avail - size * FILL_TARGET_AVAIL_RATIO - ARCHIVE_OVERHEAD_BYTES;
    const payloadBytes = Math.max(MIN_FILL_PAYLOAD_BYTES, Math.min(FILL_CHUNK_BYTES, wanted));
    const name = await writeSampleArchive(dir, {
      namespace: 'fill',
      pod: `filler-${index}`,
      container: 'data',
      timestamp: minutesAgo(1),
      runtime: 'cri-o',
      payloadBytes: Math.floor(payloadBytes),
    });
    await writeFile(path.join(dir, pinFileNameOf(name)), '');
  }
}

/** Everything the exporter and Prometheus need, in temp files; nothing of this is committed. */
async function writeConfigs(ports: { exporter: number; prometheus: number; alertmanager: number }, webhookUrl: string): Promise<{ prometheus: string; alertmanager: string; policy: string }> {
  const rules = path.join(env.work, 'rules.yaml');
  await writeFile(rules, renderRulesYaml(buildAlertRuleGroups({ forScale: FOR_SCALE })));
  const prometheus = path.join(env.work, 'prometheus.yaml');
  await writeFile(
    prometheus,
    yaml.dump({
      global: { scrape_interval: '1s', scrape_timeout: '1s', evaluation_interval: '1s' },
      rule_files: [rules],
      alerting: { alertmanagers: [{ static_configs: [{ targets: [`127.0.0.1:${ports.alertmanager}`] }] }] },
      scrape_configs: [{ job_name: SCRAPE_JOB, static_configs: [{ targets: [`127.0.0.1:${ports.exporter}`], labels: { node: NODE } }] }],
    }),
  );
  const alertmanager = path.join(env.work, 'alertmanager.yaml');
  await writeFile(
    alertmanager,
    yaml.dump({
      route: { receiver: 'test', group_by: ['alertname'], group_wait: '1s', group_interval: '1s', repeat_interval: '1h' },
      receivers: [{ name: 'test', webhook_configs: [{ url: webhookUrl, send_resolved: false }] }],
    }),
  );
  const policy = path.join(env.work, 'policy.yaml');
  await writeFile(policy, POLICY(env.checkpoints));
  return { prometheus, alertmanager, policy };
}

function diagnostics(): string {
  return env.processes.map((p) => `--- ${p.name} (pid ${p.pid}) output:\n${p.output()}`).join('\n');
}

/** The exporter's environment: no in-cluster API and no inherited jest flags. */
function exporterEnvironment(): NodeJS.ProcessEnv {
  const copy: NodeJS.ProcessEnv = { ...process.env };
  for (const key of ['KUBERNETES_SERVICE_HOST', 'KUBERNETES_SERVICE_PORT', 'NODE_OPTIONS', 'NODE_NAME', 'KUBECONFIG']) delete copy[key];
  return copy;
}

async function promtoolCheckMetrics(text: string): Promise<{ code: number | null; output: string }> {
  const child = spawn(promtoolBinary ?? 'promtool', ['check', 'metrics'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stdin.end(text);
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
  return { code, output };
}

/** Seconds of data Prometheus holds (plus a margin), the range panels and annotations are queried over. */
function lookback(): number {
  return Math.max(60, Math.ceil((Date.now() - env.startedAtMs) / 1000) + 5);
}

/**
 * The values Grafana would send for the dashboard's variables, each chosen from what Prometheus offers
 * given the ones before it. The series carry no `cluster` label here (one cluster): the cluster
 * variable offers nothing and stays at All, its `.*` matching series without the label.
 */
async function resolveVariables(dashboard: Parameters<typeof listLabelVariables>[0]): Promise<Record<string, string>> {
  const values: Record<string, string> = { __rate_interval: RATE_INTERVAL };
  for (const variable of listLabelVariables(dashboard)) {
    if (variable.name === 'cluster') {
      expect(await labelValues(env.prometheusUrl, variable.name, interpolate(variable.match, values), lookback())).toEqual([]);
      expect(variable.allValue).toBe('.*');
      values[variable.name] = variable.allValue ?? '';
      continue;
    }
    const wanted = FOCUS[variable.name as keyof typeof FOCUS];
    const offered = await waitFor(
      async () => {
        const found = await labelValues(env.prometheusUrl, variable.name, interpolate(variable.match, values), lookback());
        return found.includes(wanted) ? found : undefined;
      },
      { timeoutMs: DATA_TIMEOUT_MS, description: `label_values(${variable.match}, ${variable.name}) to offer ${wanted}`, diagnostics },
    );
    expect(offered).toContain(wanted);
    values[variable.name] = wanted;
  }
  return values;
}

async function deletionCount(): Promise<number> {
  const [sample] = (await queryInstant(env.prometheusUrl, `checkpoint_retention_deletions_total{namespace="${FOCUS.namespace}", reason="count"}`)) as Array<{ value?: [number, string] }>;
  return Number(sample?.value?.[1] ?? 0);
}

(runnable ? describe : describe.skip)('observability end to end', () => {
  beforeAll(async () => {
    if (!existsSync(exporterMain)) throw new Error(`${exporterMain} is missing: run \`npm run build\` first (npm test does)`);
    const work = await mkdtemp(path.join(os.tmpdir(), 'checkpoint-e2e-'));
    Object.assign(env, { work, checkpoints: path.join(work, 'checkpoints') });
    await mkdir(env.checkpoints);
    await run('mount', ['-t', 'tmpfs', '-o', `size=${TMPFS_BYTES},mode=0700`, 'tmpfs', env.checkpoints]);
    env.mounted = true;
    await seedCheckpointDirectory(env.checkpoints);
    // Pod-level archives (KEP-5823), so the pod panels and the disk share have them.
    const podCheckpoints = path.join(work, 'pod-checkpoints');
    await mkdir(podCheckpoints);
    await writeSamplePodArchive(podCheckpoints, { namespace: 'shop', pod: 'web-0', containers: ['nginx', 'log-shipper'], timestamp: minutesAgo(12) });

    env.webhook = await startWebhookReceiver();
    const ports = { exporter: await findFreePort(), prometheus: await findFreePort(), alertmanager: await findFreePort() };
    const configs = await writeConfigs(ports, env.webhook.url);

    const exporter = startProcess({
      name: 'checkpoint-exporter',
      command: process.execPath,
      args: [
        exporterMain,
        'serve',
        '--checkpoint-dir',
        env.checkpoints,
        '--pod-checkpoint-dir',
        podCheckpoints,
        '--listen-address',
        `127.0.0.1:${ports.exporter}`,
        '--config',
        configs.policy,
        '--settle-time',
        '100ms',
        '--resync-interval',
        '1s',
        '--log-level',
        'warn',
        // The archive the count limit deletes is offloaded first, so the offload panels have data.
        '--offload-to',
        path.join(work, 'offload'),
      ],
      env: exporterEnvironment(),
    });
    env.processes.push(exporter);
    env.exporterUrl = `http://127.0.0.1:${ports.exporter}`;
    await waitForHttpOk(`${env.exporterUrl}/readyz`, exporter, START_TIMEOUT_MS);

    await mkdir(path.join(work, 'alertmanager-data'));
    const alertmanager = startAlertmanager({ binary: alertmanagerBinary ?? '', configFile: configs.alertmanager, dataDir: path.join(work, 'alertmanager-data'), port: ports.alertmanager });
    env.processes.push(alertmanager);
    await waitForHttpOk(`http://127.0.0.1:${ports.alertmanager}/-/ready`, alertmanager, START_TIMEOUT_MS);

    await mkdir(path.join(work, 'prometheus-data'));
    const prometheus = startPrometheus({ binary: prometheusBinary ?? '', configFile: configs.prometheus, dataDir: path.join(work, 'prometheus-data'), port: ports.prometheus });
    env.processes.push(prometheus);
    env.prometheusUrl = `http://127.0.0.1:${ports.prometheus}`;
    env.startedAtMs = Date.now();
    await waitForHttpOk(`${env.prometheusUrl}/-/ready`, prometheus, START_TIMEOUT_MS);
    await waitFor(async () => ((await queryInstant(env.prometheusUrl, `up{job="${SCRAPE_JOB}"} == 1`)).length > 0 ? true : undefined), {
      timeoutMs: DATA_TIMEOUT_MS,
      description: 'a successful scrape of the exporter',
      diagnostics,
    });
  }, 3 * START_TIMEOUT_MS);

  afterAll(async () => {
    const problems: string[] = [];
    // Reverse start order: Prometheus stops sending before Alertmanager goes, the exporter releases the mount last.
    for (const child of [...env.processes].reverse()) {
      await child.stop().catch((error: unknown) => problems.push(`${child.name}: ${String(error)}`));
    }
    await env.webhook?.close().catch((error: unknown) => problems.push(`webhook: ${String(error)}`));
    if (env.mounted) {
      await run('umount', [env.checkpoints]).then(
        () => (env.mounted = false),
        (error: unknown) => problems.push(`umount: ${String(error)}`),
      );
    }
    if (env.work !== '' && !env.mounted) await rm(env.work, { recursive: true, force: true });
    if (problems.length > 0) throw new Error(`cleanup failed: ${problems.join('; ')}`);
  }, 60_000);

  it('serves /metrics that promtool check metrics accepts without a word', async () => {
    const response = await fetch(`${env.exporterUrl}/metrics`);
    expect(response.status).toBe(200);
    const text = await response.text();
    expect(text).toContain('checkpoint_archives{');
    const { code, output } = await promtoolCheckMetrics(text);
    expect({ code, output }).toEqual({ code: 0, output: '' });
  });

  it.each([
    ['the tmpfs size', `checkpoint_filesystem_size_bytes{node="${NODE}"}`, TMPFS_BYTES],
    ['the archives left after the count limit', 'checkpoint_archives{namespace="shop", pod="web-0", container="nginx"}', 2],
    ['the deletion by the count limit', 'checkpoint_retention_deletions_total{namespace="shop", reason="count"}', 1],
    ['the pinned archives', 'checkpoint_archives_pinned{namespace="shop", pod="db-0", container="postgres"}', 2],
    ['the limit pins make unsatisfiable', 'checkpoint_retention_limit_unsatisfiable{namespace="shop", pod="db-0", container="postgres", limit="count"}', 1],
    ['the unidentified archive', 'checkpoint_unidentified_archives', 1],
    ['the foreign file', 'checkpoint_unrecognized_files', 1],
    ['the container count limit', 'checkpoint_retention_limit_archives{namespace="shop", pod="web-0", container="nginx"}', 2],
    ['the disk-pressure high mark', 'checkpoint_retention_disk_pressure_high_ratio', DISK_PRESSURE.highThresholdPercent / 100],
    ['the disk-pressure low mark', 'checkpoint_retention_disk_pressure_low_ratio', DISK_PRESSURE.lowThresholdPercent / 100],
  ])('shows %s in Prometheus', async (_name, selector, expected) => {
    const value = await waitFor(
      async () => {
        const [sample] = (await queryInstant(env.prometheusUrl, selector)) as Array<{ value?: [number, string] }>;
        return sample?.value?.[1] === String(expected) ? sample.value[1] : undefined;
      },
      { timeoutMs: DATA_TIMEOUT_MS, description: `${selector} == ${expected}`, diagnostics },
    );
    expect(Number(value)).toBe(expected);
  });

  it('deleted the oldest archive of the container over its count limit', async () => {
    const names = await readdir(env.checkpoints);
    expect(names).not.toContain(env.archives.deletedByCount);
    expect(names.filter((name) => name.startsWith('checkpoint-web-0_shop-nginx-'))).toHaveLength(2);
  });

  it.each(Object.entries(buildDashboards()))('finds data for every panel and annotation query of %s, variables resolved through Prometheus', async (_fileName, dashboard) => {
    const values = await resolveVariables(dashboard);
    const queries = [
      ...listPanelQueries(dashboard).map((query) => ({ name: `${query.panel} ${query.refId}`, instant: query.instant, expr: interpolate(query.expr, values) })),
      // Grafana runs annotation queries over the time range, like a time series panel.
      ...listAnnotationQueries(dashboard).map((annotation) => ({ name: `annotation ${annotation.name}`, instant: false, expr: interpolate(annotation.expr, values) })),
    ];
    const empty = await waitFor(
      async () => {
        const missing: string[] = [];
        for (const query of queries) {
          const series = query.instant ? await queryInstant(env.prometheusUrl, query.expr) : await queryRange(env.prometheusUrl, query.expr, lookback(), 1);
          if (series.length === 0) missing.push(`${query.name}: ${query.expr}`);
        }
        return missing.length === 0 ? missing : undefined;
      },
      {
        timeoutMs: DATA_TIMEOUT_MS,
        description: 'every panel and annotation query to return a series',
        diagnostics: () => `queries: ${queries.map((q) => `\n  ${q.name}: ${q.expr}`).join('')}\n${diagnostics()}`,
      },
    );
    expect(empty).toEqual([]);
  }, 2 * DATA_TIMEOUT_MS);

  it.each(Object.entries(buildDashboards()))('marks a deletion made while Prometheus watches with the Deletions annotation of %s', async (_fileName, dashboard) => {
    const values = await resolveVariables(dashboard);
    const [annotation] = listAnnotationQueries(dashboard);
    const expr = interpolate(annotation?.expr ?? '', values);
    const marked = async (): Promise<boolean> =>
      (await queryInstant(env.prometheusUrl, expr)).some((series) => series.metric['namespace'] === FOCUS.namespace && series.metric['reason'] === 'count');
    // The deletion before the first scrape is marked only while its series is new; wait until that has passed.
    await waitFor(async () => ((await marked()) ? undefined : true), { timeoutMs: DATA_TIMEOUT_MS, description: 'no deletion annotation at present', diagnostics });
    const deletionsBefore = await deletionCount();
    // One archive more than the count limit of 2: retention deletes the oldest, reason count.
    await writeSampleArchive(env.checkpoints, { ...FOCUS, timestamp: minutesAgo(1), runtime: 'cri-o' });
    await waitFor(async () => ((await deletionCount()) === deletionsBefore + 1 ? true : undefined), {
      timeoutMs: DATA_TIMEOUT_MS,
      description: `checkpoint_retention_deletions_total{namespace="shop", reason="count"} to reach ${deletionsBefore + 1}`,
      diagnostics,
    });
    const found = await waitFor(async () => ((await marked()) ? true : undefined), { timeoutMs: DATA_TIMEOUT_MS, description: `the Deletions annotation: ${expr}`, diagnostics });
    expect(found).toBe(true);
  }, 4 * DATA_TIMEOUT_MS);

  it('delivers CheckpointDirectoryAlmostFull to the Alertmanager webhook once the directory fills up', async () => {
    const webhook = env.webhook;
    if (!webhook) throw new Error('webhook receiver not started');
    const alertsBefore = webhook.notifications.flatMap((n) => n.alerts).filter((a) => a.labels['alertname'] === 'CheckpointDirectoryAlmostFull');
    expect(alertsBefore).toEqual([]);

    await fillCheckpointDirectory(env.checkpoints);
    const delivered = await waitFor(
      async () => {
        const found = webhook.notifications
          .flatMap((notification) => notification.alerts)
          .filter((alert) => alert.labels['alertname'] === 'CheckpointDirectoryAlmostFull' && alert.status === 'firing');
        return found.some((alert) => alert.labels['severity'] === 'critical') ? found : undefined;
      },
      { timeoutMs: ALERT_TIMEOUT_MS, description: 'CheckpointDirectoryAlmostFull at the webhook', diagnostics },
    );
    const critical = delivered.find((alert) => alert.labels['severity'] === 'critical');
    expect(critical?.labels).toMatchObject({ node: NODE, job: SCRAPE_JOB });
    expect(critical?.annotations['runbook_url']).toBe(`${DEFAULT_RUNBOOK_BASE_URL}#checkpointdirectoryalmostfull`);
    expect(critical?.annotations['description']).toMatch(new RegExp(`on node ${NODE} has only [0-2]\\.\\d\\d% space available`));
  }, ALERT_TIMEOUT_MS + 30_000);
});
