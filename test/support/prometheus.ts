/**
 * Process and HTTP helpers for tests that drive real Prometheus, Alertmanager and exporter processes.
 * Every process is started and stopped by its own pid; nothing is looked up or killed by name.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** How much of a process's output is kept for the failure message: the tail is what explains a crash. */
const OUTPUT_TAIL_BYTES = 16 * 1024;
/** A process that ignores SIGTERM this long gets SIGKILL, so a stuck child cannot hang the suite. */
const STOP_GRACE_MS = 5_000;
const POLL_INTERVAL_MS = 200;

export interface ManagedProcess {
  readonly name: string;
  readonly pid: number;
  /** stdout and stderr interleaved, last OUTPUT_TAIL_BYTES only. */
  output(): string;
  /** Exit code or signal once exited, undefined while running. */
  exited(): { readonly code: number | null; readonly signal: NodeJS.Signals | null } | undefined;
  /** SIGTERM to this pid, SIGKILL after a grace period; resolves once it has exited. Idempotent. */
  stop(): Promise<void>;
}

export interface StartOptions {
  readonly name: string;
  readonly command: string;
  readonly args: readonly string[];
  readonly cwd?: string;
  readonly env?: NodeJS.ProcessEnv;
}

export function startProcess(options: StartOptions): ManagedProcess {
  const child: ChildProcess = spawn(options.command, [...options.args], {
    cwd: options.cwd,
    env: options.env ?? process.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  if (child.pid === undefined) throw new Error(`${options.name}: spawn of ${options.command} failed`);
  const pid = child.pid;
  let tail = '';
  const keep = (chunk: Buffer): void => {
    tail = (tail + chunk.toString('utf8')).slice(-OUTPUT_TAIL_BYTES);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  const exitedPromise = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      exit = { code, signal };
      resolve();
    });
    child.once('error', (error) => {
      keep(Buffer.from(`\n[spawn error] ${error.message}\n`));
      exit ??= { code: null, signal: null };
      resolve();
    });
  });

  return {
    name: options.name,
    pid,
    output: () => tail,
    exited: () => exit,
    stop: async () => {
      if (exit) return;
      process.kill(pid, 'SIGTERM');
      const timer = setTimeout(() => {
        if (!exit) process.kill(pid, 'SIGKILL');
      }, STOP_GRACE_MS);
      await exitedPromise;
      clearTimeout(timer);
    },
  };
}

/** A port the kernel just handed out on loopback; released before returning, so bind it promptly. */
export async function findFreePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  server.close();
  await once(server, 'close');
  return port;
}

export interface WaitOptions {
  /** An upper bound so a broken setup fails instead of hanging; never a speed requirement. */
  readonly timeoutMs: number;
  readonly description: string;
  /** Appended to the timeout error, e.g. process output. */
  readonly diagnostics?: () => string;
}

/** Polls `check` until it returns a value other than undefined. */
export async function waitFor<T>(check: () => Promise<T | undefined>, options: WaitOptions): Promise<T> {
  const deadline = Date.now() + options.timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) {
      const cause = lastError instanceof Error ? `; last error: ${lastError.message}` : '';
      throw new Error(`timed out waiting for ${options.description}${cause}${options.diagnostics ? `\n${options.diagnostics()}` : ''}`);
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_INTERVAL_MS));
  }
}

/** Resolves once GET `url` answers 200, failing early if the process behind it exits. */
export async function waitForHttpOk(url: string, owner: ManagedProcess, timeoutMs: number): Promise<void> {
  await waitFor(
    async () => {
      const exit = owner.exited();
      if (exit) throw new Error(`${owner.name} exited (code ${exit.code}, signal ${exit.signal})`);
      const response = await fetch(url);
      await response.arrayBuffer();
      return response.status === 200 ? true : undefined;
    },
    { timeoutMs, description: `${owner.name} at ${url}`, diagnostics: () => `${owner.name} output:\n${owner.output()}` },
  );
}

export interface PrometheusSample {
  readonly metric: Record<string, string>;
}

interface PrometheusResponse<T> {
  readonly status: 'success' | 'error';
  readonly data: T;
  readonly error?: string;
}

async function getPrometheus<T>(baseUrl: string, path: string, params: URLSearchParams): Promise<T> {
  const response = await fetch(`${baseUrl}${path}?${params.toString()}`);
  const body = (await response.json()) as PrometheusResponse<T>;
  if (body.status !== 'success') throw new Error(`Prometheus ${path} failed (${response.status}): ${body.error ?? 'unknown error'}`);
  return body.data;
}

/** Instant query: the series of the result vector (a scalar result counts as one series). */
export async function queryInstant(baseUrl: string, expr: string): Promise<PrometheusSample[]> {
  const data = await getPrometheus<{ resultType: string; result: unknown }>(baseUrl, '/api/v1/query', new URLSearchParams({ query: expr }));
  if (data.resultType === 'scalar') return [{ metric: {} }];
  return data.result as PrometheusSample[];
}

/** Range query over the last `seconds`, as a time series panel issues it. */
export async function queryRange(baseUrl: string, expr: string, seconds: number, stepSeconds: number): Promise<PrometheusSample[]> {
  const end = Date.now() / 1000;
  const params = new URLSearchParams({ query: expr, start: String(end - seconds), end: String(end), step: String(stepSeconds) });
  const data = await getPrometheus<{ result: PrometheusSample[] }>(baseUrl, '/api/v1/query_range', params);
  return data.result;
}

/** What Grafana's `label_values(series, label)` asks Prometheus for. */
export async function labelValues(baseUrl: string, label: string, match: string, seconds: number): Promise<string[]> {
  const end = Date.now() / 1000;
  const params = new URLSearchParams({ 'match[]': match, start: String(end - seconds), end: String(end) });
  return getPrometheus<string[]>(baseUrl, `/api/v1/label/${encodeURIComponent(label)}/values`, params);
}

export interface ActiveAlert {
  readonly labels: Record<string, string>;
  readonly annotations: Record<string, string>;
  readonly state: string;
}

export async function activeAlerts(baseUrl: string): Promise<ActiveAlert[]> {
  const data = await getPrometheus<{ alerts: ActiveAlert[] }>(baseUrl, '/api/v1/alerts', new URLSearchParams());
  return data.alerts;
}

/** One POST body Alertmanager's webhook integration sent. */
export interface WebhookNotification {
  readonly status: 'firing' | 'resolved';
  readonly alerts: ReadonlyArray<{ readonly status: string; readonly labels: Record<string, string>; readonly annotations: Record<string, string> }>;
}

export interface WebhookReceiver {
  readonly url: string;
  readonly notifications: readonly WebhookNotification[];
  close(): Promise<void>;
}

async function readBody(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** An HTTP server on loopback that records every Alertmanager webhook notification it receives. */
export async function startWebhookReceiver(): Promise<WebhookReceiver> {
  const notifications: WebhookNotification[] = [];
  const server: Server = createServer((request, response) => {
    readBody(request).then(
      (body) => {
        try {
          notifications.push(JSON.parse(body) as WebhookNotification);
          response.writeHead(200).end();
        } catch {
          response.writeHead(400).end();
        }
      },
      () => response.writeHead(500).end(),
    );
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/alerts`,
    notifications,
    close: async () => {
      server.closeAllConnections();
      server.close();
      await once(server, 'close');
    },
  };
}

export interface PrometheusSetup {
  readonly binary: string;
  readonly configFile: string;
  readonly dataDir: string;
  readonly port: number;
}

export function startPrometheus(setup: PrometheusSetup): ManagedProcess {
  return startProcess({
    name: 'prometheus',
    command: setup.binary,
    args: [
      `--config.file=${setup.configFile}`,
      `--storage.tsdb.path=${setup.dataDir}`,
      `--web.listen-address=127.0.0.1:${setup.port}`,
      // The e2e waits on alert state; resending every second instead of every minute keeps that short.
      '--rules.alert.resend-delay=1s',
      '--log.level=warn',
    ],
  });
}

export interface AlertmanagerSetup {
  readonly binary: string;
  readonly configFile: string;
  readonly dataDir: string;
  readonly port: number;
}

export function startAlertmanager(setup: AlertmanagerSetup): ManagedProcess {
  return startProcess({
    name: 'alertmanager',
    command: setup.binary,
    args: [
      `--config.file=${setup.configFile}`,
      `--storage.path=${setup.dataDir}`,
      `--web.listen-address=127.0.0.1:${setup.port}`,
      // An empty cluster address turns gossip off; otherwise it binds a fixed port on all interfaces.
      '--cluster.listen-address=',
      '--log.level=warn',
    ],
  });
}
