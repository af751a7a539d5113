import type { Logger } from 'pino';
import type { Inventory } from '../inventory/inventory.js';
import type { ArchiveIdentity } from '../archive/types.js';
import type { PodCheckpointView } from '../kubernetes/pod-checkpoint-watch.js';
import { createRetentionExecutor, type RetentionExecutor } from '../retention/execute.js';
import type { OwnerLookup, RetentionObserver, RetentionPolicy } from '../retention/types.js';
import { createPodDiskPressure, type PodDiskPressure } from './pod-disk-pressure.js';
import { createPodRetention, type PodRetention } from './pod-retention.js';

export interface PodWiringDeps {
  readonly directory: string;
  readonly inventory: Inventory;
  readonly policy: () => RetentionPolicy;
  /** False while the policies are not known yet: pod retention deletes nothing. */
  readonly ready: () => boolean;
  readonly dryRun: boolean;
  readonly observer: RetentionObserver;
  readonly intervalMs: number;
  readonly futureToleranceMs: number | undefined;
  readonly logger: Logger;
  readonly now: () => number;
  /** PodCheckpoint objects and the pods of pod archives, with an API server. */
  readonly podCheckpoints?: (() => ReturnType<PodCheckpointView['state']>) | undefined;
  readonly podOwners?: ((identities: readonly ArchiveIdentity[]) => Promise<OwnerLookup>) | undefined;
}

export interface PodWiring {
  readonly executor: RetentionExecutor;
  readonly retention: PodRetention;
  /** What disk pressure is given of the pod checkpoint directory (retention-wiring.ts). */
  readonly pressure: PodDiskPressure;
}

/**
 * Everything that deletes in the pod checkpoint directory, around one executor: pod retention (its
 * limits, ages, orphans) and disk pressure both hand it their plans. The executor runs one plan at a
 * time, so when both pick the same archive it is unlinked once and the later plan finds it already
 * gone (not an error); with an executor each, both would pass their checks before either unlinked, and
 * the second unlink would fail and count as an unlink error.
 */
export function createPodWiring(deps: PodWiringDeps): PodWiring {
  const { directory, inventory, dryRun, logger } = deps;
  const executor = createRetentionExecutor({ directory, dryRun, logger: logger.child({ inventory: 'pod' }), observer: deps.observer });
  const retention = createPodRetention({
    directory,
    inventory,
    policy: deps.policy,
    ready: deps.ready,
    dryRun,
    executor,
    intervalMs: deps.intervalMs,
    futureToleranceMs: deps.futureToleranceMs,
    logger,
    now: deps.now,
    ...(deps.podCheckpoints !== undefined ? { podCheckpoints: deps.podCheckpoints } : {}),
    ...(deps.podOwners !== undefined ? { podOwners: deps.podOwners } : {}),
  });
  const pressure = createPodDiskPressure({
    directory,
    inventory,
    executor,
    // What the pod limits already delete counts as freed.
    podPlan: () => retention.lastPlan(),
    ...(deps.podCheckpoints !== undefined ? { podCheckpoints: deps.podCheckpoints } : {}),
  });
  return { executor, retention, pressure };
}
