import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { Inventory } from '../inventory/inventory.js';
import { registerExporterCollectors, type ExporterMetrics } from '../metrics/registry.js';
import { readDiskStats } from './disk-stats.js';
import { referencedArchives } from './pod-retention.js';
import { resolvePodArchiveIdentities } from '../retention/pod-archive-identity.js';
import type { KubernetesConnection } from './kubernetes-wiring.js';
import type { PolicySources } from './policy-sources.js';
import type { RetentionRunner } from './retention-runner.js';

export interface MetricsWiringDeps {
  readonly directory: string;
  readonly dryRun: boolean;
  readonly version: string;
  readonly containerMetrics: import('../metrics/container-metrics.js').ContainerMetricsLevel | boolean | undefined;
  readonly registry: Registry;
  readonly inventory: Inventory;
  readonly runner: RetentionRunner;
  readonly policies: PolicySources;
  readonly kubernetes: KubernetesConnection | undefined;
  readonly logger: Logger;
  /** The pod checkpoint directory's inventory, when one is watched. */
  readonly podInventory?: Inventory | undefined;
}

/** The scrape-time collectors over the running exporter's parts, and the per-container lines kept current with the inventory. */
export function createMetricsWiring(deps: MetricsWiringDeps): ExporterMetrics {
  const { inventory, runner, policies, kubernetes, directory } = deps;
  const pods = deps.podInventory as Inventory;
  const metrics = registerExporterCollectors(
    deps.registry,
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
      dryRun: deps.dryRun,
      version: deps.version,
      containerMetrics: deps.containerMetrics,
      podArchives:
        deps.podInventory === undefined
          ? undefined
          : {
              snapshot: () => pods.snapshot(),
              status: () => pods.status(),
              // Orphans only where the API serves the group and its objects are known.
              ...(kubernetes !== undefined
                ? {
                    references: () => {
                      const state = kubernetes.podCheckpoints.state();
                      return state.kind === 'known' ? referencedArchives(state) : undefined;
                    },
                    identityConflicts: () => {
                      const state = kubernetes.podCheckpoints.state();
                      return state.kind === 'known' ? resolvePodArchiveIdentities(pods.snapshot().archives, state.objects).conflicts.length : undefined;
                    },
                  }
                : {}),
            },
    },
    deps.logger,
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
  return metrics;
}
