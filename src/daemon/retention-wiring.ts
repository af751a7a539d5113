import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { Inventory } from '../inventory/inventory.js';
import type { ExporterRegistry } from '../metrics/registry.js';
import type { OffloadSettings } from '../offload/settings.js';
import { createRetentionExecutor, type RetentionExecutor } from '../retention/execute.js';
import type { OwnerLookup } from '../retention/types.js';
import { readDiskStats } from './disk-stats.js';
import type { KubernetesConnection } from './kubernetes-wiring.js';
import type { PodDiskPressure } from './pod-disk-pressure.js';
import type { PolicySources } from './policy-sources.js';
import type { RetentionRequests } from './retention-requests.js';
import { createRetentionRunner, type RetentionRunner } from './retention-runner.js';

const NO_KUBERNETES: OwnerLookup = () => ({ state: 'unknown', reason: 'no Kubernetes API configured' });

export interface RetentionWiringDeps {
  readonly directory: string;
  readonly dryRun: boolean;
  readonly nodeName: string | undefined;
  readonly futureToleranceMs: number | undefined;
  readonly offload: OffloadSettings | undefined;
  readonly inventory: Inventory;
  readonly policies: PolicySources;
  readonly kubernetes: KubernetesConnection | undefined;
  readonly registry: Registry;
  readonly retentionMetrics: ExporterRegistry['retention'];
  readonly requests: RetentionRequests;
  readonly logger: Logger;
  readonly now: () => number;
  /** The pod checkpoint directory's archives, which disk pressure takes too (with `--pod-checkpoint-dir`). */
  readonly podPressure?: PodDiskPressure | undefined;
}

export interface RetentionWiring {
  readonly runner: RetentionRunner;
  readonly executor: RetentionExecutor;
  /** Aborts the copies in flight: their archives stay, and are offloaded after a restart. */
  closeOffloader(): void;
  /** Stops following the pod checkpoint directory for disk pressure. */
  stopWatching(): void;
}

/** The executor (with its offloader when `--offload-to` is given) and the runner that plans for it on request. */
export async function createRetentionWiring(deps: RetentionWiringDeps): Promise<RetentionWiring> {
  const { directory, inventory, policies, kubernetes, retentionMetrics, logger, now } = deps;
  const offloader =
    deps.offload === undefined
      ? undefined
      : await (await import('./offload-wiring.js')).createOffloadWiring({ settings: deps.offload, directory, nodeName: deps.nodeName, registry: deps.registry, index: () => inventory.index(), logger, now });
  const executor = createRetentionExecutor({
    directory,
    dryRun: deps.dryRun,
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
    ...(deps.futureToleranceMs !== undefined ? { futureToleranceMs: deps.futureToleranceMs } : {}),
    ...(deps.podPressure !== undefined ? { podArchives: deps.podPressure } : {}),
  });
  deps.requests.on('full', () => runner.requestFull());
  // A pod archive arriving may push the filesystem over the high mark, and no container archive changed.
  const unsubscribe = deps.podPressure?.subscribe(() => {
    if (policies.policy().diskPressure !== undefined) runner.podArchivesChanged();
  });
  return { runner, executor, closeOffloader: () => offloader?.close(), stopWatching: () => unsubscribe?.() };
}
