import type { AddressInfo } from 'node:net';
import type Koa from 'koa';
import type { Logger } from 'pino';
import { EventEmitter } from 'node:events';
import { createIdentityReader, IDENTIFY_BATCH_CONCURRENCY } from '../archive/identity-reader.js';
import { createInventory } from '../inventory/inventory.js';
import type { PolicyEventTarget } from '../kubernetes/events.js';
import { registerPolicyCollector } from '../metrics/policy-collector.js';
import { createExporterRegistry, registerExporterCollectors } from '../metrics/registry.js';
import { createRetentionExecutor } from '../retention/execute.js';
import { watchPolicyFile } from '../retention/policy-file.js';
import type { PolicyDocument } from '../retention/policy-document.js';
import type { OwnerLookup } from '../retention/types.js';
import { createServerApp } from '../server/app.js';
import { createAuthGuard, OPEN_PATHS } from '../server/auth.js';
import { createAuthMetrics } from '../metrics/auth-metrics.js';
import { closeServer, listen, type ListenAddress, type WebServer } from '../server/listen.js';
import type { LoadedWebConfig } from '../server/web-config.js';
import { createWebConfigRuntime } from './web-config-wiring.js';
import { readDiskStats } from './disk-stats.js';
import type { KubernetesConnection } from './kubernetes-wiring.js';
import { createPolicySources } from './policy-sources.js';
import { createRetentionRunner } from './retention-runner.js';
import { buildExporterStatus, isReady } from './exporter-status.js';
import { DEFAULT_CHECKPOINT_DIRECTORY } from '../defaults.js';
import { streamArchives, streamPlan } from '../server/views.js';
import { createHttpViewMetrics } from '../metrics/http-metrics.js';
import type { OffloadSettings } from '../offload/settings.js';

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
  /** Per-container metric families (default on); off keeps only node-level totals, for very large nodes. */
  readonly containerMetrics?: boolean;
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
}

export interface RunningExporter {
  readonly url: string;
  readonly server: WebServer;
  stop(): Promise<void>;
}

/**
 * The policy as described, with the checkpoint directory actually in use: a `--checkpoint-dir` flag
 * overrides the policy's `checkpointDirectory`, and the view must say what is in force.
 */
function describeInForce(described: unknown, directory: string): unknown {
  const view = described as { effective?: { checkpointDirectory?: { value: unknown; source: unknown } } };
  const setting = view.effective?.checkpointDirectory;
  if (view.effective === undefined || setting?.value === directory) return described;
  return {
    ...view,
    effective: { ...view.effective, checkpointDirectory: { value: directory, source: directory === DEFAULT_CHECKPOINT_DIRECTORY ? 'default' : 'flag --checkpoint-dir' } },
  };
}


const NO_KUBERNETES: OwnerLookup = () => ({ state: 'unknown', reason: 'no Kubernetes API configured' });

/**
 * The composition root of `serve`: wires inventory → retention → metrics/server, plus the policy and
 * Kubernetes sources. Everything is declared before it is used; the sources that must reach the
 * retention runner built after them do so through `retentionRequests`.
 */
export async function startExporter(config: ExporterConfig): Promise<RunningExporter> {
  const { logger } = config;
  const now = (): number => Date.now();
  const startedMs = now();
  const directory = config.checkpointDirectory;
  // 'full': plan everything again (a policy changed, a resync finished).
  // 'invalidObject': a policy object was refused, for a Warning Event once the API client exists.
  const retentionRequests = new EventEmitter<{ full: []; invalidObject: [object: PolicyEventTarget, problems: readonly string[]] }>();

  const policies = createPolicySources({
    configPath: config.configPath,
    logger,
    now,
    ...(config.exporterNamespace !== undefined ? { exporterNamespace: config.exporterNamespace } : {}),
    onInvalidObject: (object, problems) => retentionRequests.emit('invalidObject', object, problems),
  });
  if (config.configPath !== undefined) policies.setFileDocuments(config.initialPolicy);

  // Checked before anything starts: `--auth kubernetes` without an API server to ask is a configuration error.
  const authorize =
    config.auth === 'kubernetes'
      ? (await import('./auth-wiring.js')).connectAccessReviews({ kubeconfigPath: config.kubeconfigPath, env: config.env, logger, now })
      : undefined;

  // The Kubernetes client is loaded only when an API server could be configured (a kubeconfig or the
  // in-cluster environment): it costs a second and tens of megabytes, for nothing on a node without one.
  const maybeKubernetes = (config.kubeconfigPath ?? '') !== '' || (config.env['KUBERNETES_SERVICE_HOST'] ?? '') !== '';
  const wiring = maybeKubernetes ? await import('./kubernetes-wiring.js') : undefined;
  if (wiring === undefined) logger.info('Kubernetes API not configured: orphan cleanup, cluster policies and Events are off');
  const kubernetes: KubernetesConnection | undefined = wiring?.connectKubernetes({
    kubeconfigPath: config.kubeconfigPath,
    nodeName: config.nodeName,
    env: config.env,
    logger,
    now,
    onPolicyObjects: (objects) => {
      policies.setClusterObjects(objects);
      retentionRequests.emit('full');
    },
  });

  const identities = createIdentityReader(logger);
  const inventory = createInventory({
    directory,
    settleTimeMs: config.settleTimeMs,
    resyncIntervalMs: config.resyncIntervalMs,
    // The inventory keeps each archive's identity while its fingerprint holds, so every archive is read once.
    identify: (path, name, fingerprint) => identities.read(path, name, fingerprint),
    identifyConcurrency: identities.threaded ? IDENTIFY_BATCH_CONCURRENCY : undefined,
    logger,
    onResync: () => retentionRequests.emit('full'),
  });

  retentionRequests.on('invalidObject', (object, problems) => kubernetes?.recordPolicyProblem(object, problems));

  const { registry, retention: retentionMetrics } = createExporterRegistry();
  registerPolicyCollector(registry, policies);

  const offloader =
    config.offload === undefined
      ? undefined
      : await (await import('./offload-wiring.js')).createOffloadWiring({ settings: config.offload, directory, nodeName: config.nodeName, registry, index: () => inventory.index(), logger, now });
  const executor = createRetentionExecutor({
    directory,
    dryRun: config.dryRun,
    logger,
    ...(offloader !== undefined ? { offloader } : {}),
    observer: {
      onDeleted(deletion, bytes) {
        retentionMetrics.observer.onDeleted(deletion, bytes);
        kubernetes?.recordDeletion(deletion, bytes);
      },
      onError(operation, deletion, error) {
        retentionMetrics.observer.onError(operation, deletion, error);
      },
    },
  });

  const runner = createRetentionRunner({
    inventory,
    policy: () => policies.policy(),
    // Never the defaults alone: not before the cluster policies are listed, nor while a policy object has no valid version.
    policiesReady: () => (kubernetes?.policiesSynced() ?? true) && policies.retentionAllowed().ok,
    resolveOwners: (identities) => (kubernetes ? kubernetes.resolveOwners(identities) : Promise.resolve(NO_KUBERNETES)),
    diskStats: () => readDiskStats(directory),
    execute: (plan) => executor.execute(plan),
    metrics: retentionMetrics,
    logger,
    now,
    ...(config.futureToleranceMs !== undefined ? { futureToleranceMs: config.futureToleranceMs } : {}),
  });
  retentionRequests.on('full', () => runner.requestFull());

  const metrics = registerExporterCollectors(
    registry,
    {
      index: () => inventory.index(),
      status: () => inventory.status(),
      owners: () => runner.owners(),
      lastPlan: () => runner.lastPlan(),
      lastRetentionRunMs: () => runner.lastRunMs(),
      policy: () => policies.policy(),
      kubernetesApiUp: () => kubernetes?.healthy() ?? false,
      configStatus: () => policies.configStatus(),
      diskStats: () => readDiskStats(directory),
      work: () => {
        const retention = runner.work();
        return { snapshotBuilds: inventory.work().snapshotBuilds, fullRuns: retention.fullRuns, scopedRuns: retention.scopedRuns, archivesPlanned: retention.archivesPlanned };
      },
      dryRun: config.dryRun,
      version: config.version,
      containerMetrics: config.containerMetrics,
    },
    logger,
  );

  // Work follows change: a batch of directory events re-renders the metric lines of the containers it
  // touched and re-plans their namespaces; only a change of everything (the directory attached, the
  // initial scan complete) redoes it all.
  inventory.subscribe((change) => {
    if (change.everything) {
      metrics.containers.rebuild();
      runner.requestFull();
      return;
    }
    metrics.containers.update(change.containers.keys());
    const namespaces = new Set<string>();
    for (const identity of change.containers.values()) namespaces.add(identity.namespace);
    runner.namespacesChanged(namespaces);
  });

  const policyWatch =
    config.configPath === undefined
      ? undefined
      : watchPolicyFile(config.configPath, {
          logger,
          onLoad: (docs) => {
            policies.setFileDocuments(docs);
            logger.info({ path: config.configPath, documents: docs.length }, 'policy file reloaded');
            retentionRequests.emit('full');
          },
          onError: (reason) => {
            policies.fileLoadFailed(reason);
            logger.error({ path: config.configPath, reason }, 'policy file reload failed; keeping the last good policy');
          },
        });

  const authMetrics = authorize ? createAuthMetrics(registry) : undefined;
  const kubernetesGuard =
    authorize && authMetrics
      ? createAuthGuard({
          authorize,
          logger,
          openPaths: OPEN_PATHS,
          onResult: (result, decision) => {
            authMetrics.request(result);
            if (decision?.kind === 'unavailable') authMetrics.reviewFailed(decision.review);
          },
        })
      : undefined;
  const web = config.webConfig === undefined ? undefined : createWebConfigRuntime({ initial: config.webConfig, registry, logger, now, basicAuthAllowed: authorize === undefined });
  // The web configuration's headers and basic auth first, then Kubernetes authentication.
  const guard: Koa.Middleware | undefined =
    web && kubernetesGuard ? (ctx, next) => web.guard(ctx, () => kubernetesGuard(ctx, next)) : (web?.guard ?? kubernetesGuard);
  const app = createServerApp({
    ...(guard ? { guard } : {}),
    metrics: () => metrics.scrapeChunks(),
    metricsContentType: metrics.contentType,
    version: config.version,
    logger,
    ready: () => isReady(inventory.status()),
    status: () =>
      buildExporterStatus({
        version: config.version,
        nodeName: config.nodeName,
        startedMs,
        dryRun: config.dryRun,
        inventory: () => inventory.status(),
        history: () => runner.history(),
        lastPlan: () => runner.lastPlan(),
        policySources: () => policies.sources(),
        lastReloadSuccessful: () => policies.configStatus().lastReloadSuccessful,
        blockedReason: () => {
          const allowed = policies.retentionAllowed();
          return allowed.ok ? undefined : allowed.reason;
        },
        kubernetes: () => ({ configured: kubernetes !== undefined, apiUp: kubernetes?.healthy() ?? false }),
        diskStats: () => readDiskStats(directory),
      }),
    // Versions: the inventory's snapshot object stays the same until something changes; the plan in force with its run time.
    archives: {
      current: () => {
        const snapshot = inventory.snapshot();
        return { key: [snapshot], serialize: () => streamArchives(snapshot) };
      },
      subscribe: (listener) => inventory.subscribe(listener),
    },
    policy: () => describeInForce(policies.describe(), directory),
    plan: {
      current: () => {
        const [plan, lastRunMs] = [runner.lastPlan(), runner.lastRunMs()];
        return { key: [plan, lastRunMs], serialize: () => streamPlan(plan, lastRunMs, config.dryRun) };
      },
    },
    views: { observer: createHttpViewMetrics(registry) },
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
  const startup = inventory.start().catch((error: unknown) => logger.error({ err: error }, 'starting the inventory failed'));
  kubernetes?.start();
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const url = `${web?.tls ? 'https' : 'http'}://${host}:${address.port}/`;
  web?.watch(server);
  logger.info({ url, directory, dryRun: config.dryRun }, 'checkpoint-exporter listening');

  let stopping: Promise<void> | undefined;
  return {
    url,
    server,
    stop() {
      stopping ??= (async () => {
        const closed = closeServer(server);
        policyWatch?.close();
        web?.close();
        await startup;
        await inventory.stop();
        await identities.close();
        // Aborts owner lookups first, so the run in flight does not wait on the API server.
        await kubernetes?.stopWatching();
        // Finishes the unlink in flight; no new run starts after this.
        await runner.stop();
        // Copies in flight are aborted: their archives stay, and are offloaded after the restart.
        offloader?.close();
        await executor.idle();
        await kubernetes?.stop();
        await closed;
      })();
      return stopping;
    },
  };
}
