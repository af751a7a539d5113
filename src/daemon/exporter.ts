import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { createIdentityCache } from '../archive/identity-cache.js';
import { createInventory } from '../inventory/inventory.js';
import { createExporterMetrics } from '../metrics/registry.js';
import { createRetentionExecutor } from '../retention/execute.js';
import { watchPolicyFile } from '../retention/policy-file.js';
import type { PolicyDocument } from '../retention/policy-document.js';
import type { OwnerLookup } from '../retention/types.js';
import { createServerApp } from '../server/app.js';
import { closeServer, listen, type ListenAddress } from '../server/listen.js';
import { readDiskStats } from './disk-stats.js';
import { connectKubernetes, type KubernetesConnection } from './kubernetes-wiring.js';
import { createPolicySources } from './policy-sources.js';
import { createRetentionRunner } from './retention-runner.js';
import { describeArchives, describePlan } from '../server/views.js';

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
}

export interface RunningExporter {
  readonly url: string;
  readonly server: Server;
  stop(): Promise<void>;
}

const NO_KUBERNETES: OwnerLookup = () => ({ state: 'unknown', reason: 'no Kubernetes API configured' });

/** The composition root of `serve`: wires inventory → retention → metrics/server, plus the policy and Kubernetes sources. */
export async function startExporter(config: ExporterConfig): Promise<RunningExporter> {
  const { logger } = config;
  const now = (): number => Date.now();
  const directory = config.checkpointDirectory;

  const policies = createPolicySources({ configPath: config.configPath, logger, now });
  if (config.configPath !== undefined) policies.setFileDocuments(config.initialPolicy);

  const kubernetes: KubernetesConnection | undefined = connectKubernetes({
    kubeconfigPath: config.kubeconfigPath,
    nodeName: config.nodeName,
    env: config.env,
    logger,
    now,
    onPolicyObjects: (objects) => {
      policies.setClusterObjects(objects);
      void runner.trigger();
    },
  });

  const identityCache = createIdentityCache();

  const view = {
    snapshot: () => inventory.snapshot(),
    owners: () => runner.owners(),
    lastPlan: () => runner.lastPlan(),
    lastRetentionRunMs: () => runner.lastRunMs(),
    kubernetesApiUp: () => kubernetes?.healthy() ?? false,
    configStatus: () => policies.configStatus(),
    diskStats: () => readDiskStats(directory),
    dryRun: config.dryRun,
    version: config.version,
  };
  const metrics = createExporterMetrics(view, logger);

  const executor = createRetentionExecutor({
    directory,
    dryRun: config.dryRun,
    logger,
    observer: {
      onDeleted(deletion, bytes) {
        metrics.retention.observer.onDeleted(deletion, bytes);
        kubernetes?.recordDeletion(deletion, bytes);
      },
      onError(operation, deletion, error) {
        metrics.retention.observer.onError(operation, deletion, error);
      },
    },
  });

  const runner = createRetentionRunner({
    snapshot: () => inventory.snapshot(),
    policy: () => policies.policy(),
    policiesReady: () => kubernetes?.policiesSynced() ?? true,
    resolveOwners: (identities) => (kubernetes ? kubernetes.resolveOwners(identities) : Promise.resolve(NO_KUBERNETES)),
    diskStats: () => readDiskStats(directory),
    execute: (plan) => executor.execute(plan),
    metrics: metrics.retention,
    logger,
    now,
  });

  const inventory = createInventory({
    directory,
    settleTimeMs: config.settleTimeMs,
    resyncIntervalMs: config.resyncIntervalMs,
    identify: (path, name, fingerprint) => identityCache.get(path, name, fingerprint),
    logger,
    onArchiveSettled: () => void runner.trigger(),
    onResync: () => {
      // Forget identities of archives that are gone, so the cache stays the size of the directory.
      identityCache.retain(inventory.snapshot().archives);
      void runner.trigger();
    },
  });

  const policyWatch =
    config.configPath === undefined
      ? undefined
      : watchPolicyFile(config.configPath, {
          logger,
          onLoad: (docs) => {
            policies.setFileDocuments(docs);
            logger.info({ path: config.configPath, documents: docs.length }, 'policy file reloaded');
            void runner.trigger();
          },
          onError: (reason) => {
            policies.fileLoadFailed(reason);
            logger.error({ path: config.configPath, reason }, 'policy file reload failed; keeping the last good policy');
          },
        });

  const app = createServerApp({
    registry: metrics.registry,
    version: config.version,
    logger,
    ready: () => inventory.snapshot().initialScanComplete,
    archives: () => describeArchives(inventory.snapshot()),
    policy: () => policies.describe(),
    plan: () => describePlan(runner.lastPlan(), runner.lastRunMs(), config.dryRun),
  });

  await inventory.start();
  kubernetes?.start();
  const server = await listen(app, config.listenAddress);
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const url = `http://${host}:${address.port}/`;
  logger.info({ url, directory, dryRun: config.dryRun }, 'checkpoint-exporter listening');
  // A first run once the initial scan is complete, even if no archive settles later.
  void runner.trigger();

  let stopping: Promise<void> | undefined;
  return {
    url,
    server,
    stop() {
      stopping ??= (async () => {
        const closed = closeServer(server);
        policyWatch?.close();
        await inventory.stop();
        // Aborts owner lookups first, so the run in flight does not wait on the API server.
        await kubernetes?.stopWatching();
        // Finishes the unlink in flight; no new run starts after this.
        await runner.stop();
        await executor.idle();
        await kubernetes?.stop();
        await closed;
      })();
      return stopping;
    },
  };
}
