import { resolve } from 'node:path';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { createIdentityReader, IDENTIFY_BATCH_CONCURRENCY, type IdentityReader } from '../archive/identity-reader.js';
import { createInventory, type Inventory } from '../inventory/inventory.js';
import { createPersistedIndex, type PersistedIndex } from '../inventory/persisted-index.js';
import { registerIndexMetrics } from '../metrics/index-metrics.js';
import type { PolicyObject } from '../kubernetes/policy-watch.js';
import { registerPolicyCollector } from '../metrics/policy-collector.js';
import { createExporterRegistry } from '../metrics/registry.js';
import type { OffloadSettings } from '../offload/settings.js';
import type { PolicyDocument } from '../retention/policy-document.js';
import type { PolicyFileWatch } from '../retention/policy-file.js';
import type { Authorize } from '../server/auth.js';
import { closeServer, listen, type ListenAddress, type WebServer } from '../server/listen.js';
import type { LoadedWebConfig } from '../server/web-config.js';
import type { KubernetesConnection } from './kubernetes-wiring.js';
import { createMetricsWiring } from './metrics-wiring.js';
import { createPodInventory } from './pod-inventory-wiring.js';
import type { PodRetention } from './pod-retention.js';
import { createPodWiring } from './pod-wiring.js';
import { createPolicyWiring, watchPolicyFileInto } from './policy-wiring.js';
import { createRetentionRequests, type RetentionRequests } from './retention-requests.js';
import { createRetentionWiring, type RetentionWiring } from './retention-wiring.js';
import { createServerWiring } from './server-wiring.js';
import type { WebConfigRuntime } from './web-config-wiring.js';

export interface ExporterConfig {
  readonly checkpointDirectory: string;
  readonly listenAddress: ListenAddress;
  readonly configPath: string | undefined;
  /** Documents of the policy file as loaded at start (already validated). */
  readonly initialPolicy: readonly PolicyDocument[];
  readonly dryRun: boolean;
  readonly resyncIntervalMs: number;
  readonly settleTimeMs: number;
  readonly kubeconfigPath: string | undefined;
  readonly nodeName: string | undefined;
  readonly env: NodeJS.ProcessEnv;
  readonly version: string;
  readonly logger: Logger;
  /** Per-container detail: all (default, also `true`), counts (the composition per namespace) or none (also `false`: node-level totals only). */
  readonly containerMetrics?: import('../metrics/container-metrics.js').ContainerMetricsLevel | boolean;
  /** How far ahead of the clock a name's time may lie before the archive is future-dated. */
  readonly futureToleranceMs?: number;
  /** The namespace whose policy objects may set every policy; others only their own namespace's. */
  readonly exporterNamespace?: string;
  /** `kubernetes`: every path but the probes needs a bearer token the API server authenticates and authorizes. */
  readonly auth?: 'none' | 'kubernetes';
  /** `--web-config-file`, loaded and validated at start: TLS, basic auth and headers, reloaded as it changes. */
  readonly webConfig?: LoadedWebConfig;
  /** `--offload-to` and its flags: archives retention deletes are copied there first, verified. */
  readonly offload?: OffloadSettings;
  /** `--state-dir`: the persisted index of what each archive was found to be, so a restart does not read them again. */
  readonly stateDir?: string;
  /** `--pod-checkpoint-dir`: the kubelet's pod-level archives (KEP-5823), watched beside the container directory. */
  readonly podCheckpointDirectory?: string;
}

/** Pod-level archives are planned again this often without a change, so age limits apply on time. */
const POD_RETENTION_INTERVAL_MS = 60_000;

export interface RunningExporter {
  readonly url: string;
  readonly server: WebServer;
  stop(): Promise<void>;
}

/** Checked before anything starts: `--auth kubernetes` without an API server to ask is a configuration error. */
async function connectAuth(config: ExporterConfig, now: () => number): Promise<Authorize | undefined> {
  return config.auth === 'kubernetes'
    ? (await import('./auth-wiring.js')).connectAccessReviews({ kubeconfigPath: config.kubeconfigPath, env: config.env, logger: config.logger, now })
    : undefined;
}

/**
 * The Kubernetes client is loaded only when an API server could be configured (a kubeconfig or the
 * in-cluster environment): it costs a second and tens of megabytes, for nothing on a node without one.
 */
async function connectKubernetesIfConfigured(
  config: ExporterConfig,
  now: () => number,
  onPolicyObjects: (objects: readonly PolicyObject[]) => void,
): Promise<KubernetesConnection | undefined> {
  const { logger } = config;
  const maybeKubernetes = (config.kubeconfigPath ?? '') !== '' || (config.env['KUBERNETES_SERVICE_HOST'] ?? '') !== '';
  const wiring = maybeKubernetes ? await import('./kubernetes-wiring.js') : undefined;
  if (wiring === undefined) logger.info('Kubernetes API not configured: orphan cleanup, cluster policies and Events are off');
  return wiring?.connectKubernetes({ kubeconfigPath: config.kubeconfigPath, nodeName: config.nodeName, env: config.env, logger, now, onPolicyObjects });
}

function createInventoryWiring(config: ExporterConfig, requests: RetentionRequests): { identities: IdentityReader; inventory: Inventory; persisted: PersistedIndex } {
  const identities = createIdentityReader(config.logger);
  const persisted = createPersistedIndex({
    stateDir: config.stateDir,
    directory: resolve(config.checkpointDirectory),
    identify: (path, name, fingerprint) => identities.read(path, name, fingerprint),
    logger: config.logger,
  });
  const inventory = createInventory({
    directory: config.checkpointDirectory,
    settleTimeMs: config.settleTimeMs,
    resyncIntervalMs: config.resyncIntervalMs,
    // The inventory keeps each archive's identity while its fingerprint holds, so every archive is read once.
    identify: persisted.identify,
    identifyConcurrency: identities.threaded ? IDENTIFY_BATCH_CONCURRENCY : undefined,
    logger: config.logger,
    onResync: () => requests.emit('full'),
  });
  persisted.follow(inventory);
  return { identities, inventory, persisted };
}

interface Running {
  readonly server: WebServer;
  readonly startup: Promise<void>;
  readonly policyWatch: PolicyFileWatch | undefined;
  readonly web: WebConfigRuntime | undefined;
  readonly inventory: Inventory;
  readonly identities: IdentityReader;
  readonly persisted: PersistedIndex;
  readonly podInventory: Inventory | undefined;
  readonly podStartup: Promise<void> | undefined;
  readonly podRetention: PodRetention | undefined;
  readonly kubernetes: KubernetesConnection | undefined;
  readonly retention: RetentionWiring;
}

/** Once: the server stops taking requests, the sources stop, then the work in flight finishes, in this order. */
function createStop(parts: Running): () => Promise<void> {
  const { server, inventory, identities, kubernetes, retention } = parts;
  let stopping: Promise<void> | undefined;
  return () => {
    stopping ??= (async () => {
      const closed = closeServer(server);
      parts.policyWatch?.close();
      parts.web?.close();
      await parts.startup;
      await inventory.stop();
      // A clean stop writes what changed since the last write, so the next start reads nothing again.
      await parts.persisted.stop();
      await parts.podStartup;
      await parts.podInventory?.stop();
      await identities.close();
      // Aborts owner lookups first, so the run in flight does not wait on the API server.
      await kubernetes?.stopWatching();
      // Finishes the unlink in flight; no new run starts after this.
      retention.stopWatching();
      await retention.runner.stop();
      await parts.podRetention?.stop();
      // Copies in flight are aborted: their archives stay, and are offloaded after the restart.
      retention.closeOffloader();
      await retention.executor.idle();
      await kubernetes?.stop();
      await closed;
    })();
    return stopping;
  };
}

/**
 * The composition root of `serve`: wires inventory → retention → metrics/server, plus the policy and
 * Kubernetes sources. Everything is declared before it is used; the sources that must reach the
 * retention runner built after them do so through `requests` (retention-requests.ts).
 */
export async function startExporter(config: ExporterConfig): Promise<RunningExporter> {
  const { logger } = config;
  const now = (): number => Date.now();
  const startedMs = now();
  const directory = config.checkpointDirectory;
  const requests = createRetentionRequests();

  const policyDeps = { configPath: config.configPath, initialPolicy: config.initialPolicy, exporterNamespace: config.exporterNamespace, logger, now, requests };
  const policies = createPolicyWiring(policyDeps);
  const authorize = await connectAuth(config, now);
  const kubernetes = await connectKubernetesIfConfigured(config, now, (objects) => {
    policies.setClusterObjects(objects);
    requests.emit('full');
  });
  const { identities, inventory, persisted } = createInventoryWiring(config, requests);
  requests.on('invalidObject', (object, problems) => kubernetes?.recordPolicyProblem(object, problems));
  const podDirectory = config.podCheckpointDirectory;
  const podInventory = podDirectory === undefined ? undefined : createPodInventory({ directory: podDirectory, settleTimeMs: config.settleTimeMs, resyncIntervalMs: config.resyncIntervalMs, logger });

  const { registry, retention: retentionMetrics } = createExporterRegistry();
  registerIndexMetrics(registry, persisted.counts);
  registerPolicyCollector(registry, policies);
  // Pod retention and disk pressure (which takes pod archives too, with the container archives when
  // both directories share a filesystem) delete in the pod directory through its one executor.
  const pod =
    podDirectory === undefined || podInventory === undefined
      ? undefined
      : createPodWiring({
          directory: podDirectory,
          inventory: podInventory,
          policy: () => policies.policy(),
          ready: () => (kubernetes?.policiesSynced() ?? true) && policies.retentionAllowed().ok,
          dryRun: config.dryRun,
          observer: retentionMetrics.observer,
          intervalMs: POD_RETENTION_INTERVAL_MS,
          futureToleranceMs: config.futureToleranceMs,
          logger,
          now,
          ...(kubernetes !== undefined ? { podCheckpoints: () => kubernetes.podCheckpoints.state(), podOwners: (identities) => kubernetes.resolvePodOwners(identities) } : {}),
        });
  const podRetention = pod?.retention;
  const retention = await createRetentionWiring({
    directory,
    dryRun: config.dryRun,
    nodeName: config.nodeName,
    futureToleranceMs: config.futureToleranceMs,
    offload: config.offload,
    inventory,
    policies,
    kubernetes,
    registry,
    retentionMetrics,
    requests,
    logger,
    now,
    podPressure: pod?.pressure,
  });
  const { runner } = retention;
  requests.on('full', () => podRetention?.request());
  const metrics = createMetricsWiring({ directory, dryRun: config.dryRun, version: config.version, containerMetrics: config.containerMetrics, registry, inventory, runner, policies, kubernetes, logger, podInventory });
  const policyWatch = watchPolicyFileInto(policies, policyDeps);
  const { app, web } = createServerWiring({
    directory,
    dryRun: config.dryRun,
    version: config.version,
    nodeName: config.nodeName,
    startedMs,
    webConfig: config.webConfig,
    authorize,
    registry,
    metrics,
    inventory,
    runner,
    policies,
    kubernetes,
    logger,
    now,
  });

  // Listen first: /healthz answers at once, /readyz once the initial scan is complete.
  let server: WebServer;
  try {
    server = await listen(app, config.listenAddress, web?.tls);
  } catch (error) {
    // Nothing started but the identity workers: stop them, so the caller can report the error and exit.
    await identities.close();
    throw error;
  }
  // The index is loaded before the first scan, so the archives it knows are not read.
  const startup = persisted.load().then(() => inventory.start()).catch((error: unknown) => logger.error({ err: error }, 'starting the inventory failed'));
  const podStartup = podInventory?.start().catch((error: unknown) => logger.error({ err: error }, 'starting the pod checkpoint inventory failed'));
  kubernetes?.start();
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const url = `${web?.tls ? 'https' : 'http'}://${host}:${address.port}/`;
  web?.watch(server);
  logger.info({ url, directory, dryRun: config.dryRun }, 'checkpoint-exporter listening');

  return { url, server, stop: createStop({ podInventory, podStartup, podRetention, server, startup, policyWatch, web, inventory, identities, persisted, kubernetes, retention }) };
}
