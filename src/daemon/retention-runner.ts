import type { Logger } from 'pino';
import type { ArchiveIdentity } from '../archive/types.js';
import type { InventorySnapshot } from '../inventory/types.js';
import type { RetentionMetrics } from '../metrics/retention-collector.js';
import { planRetention } from '../retention/plan.js';
import type { DiskStats, OwnerLookup, RetentionPlan, RetentionPolicy, UnsatisfiableLimit } from '../retention/types.js';

export interface RetentionRunnerDeps {
  snapshot(): InventorySnapshot;
  policy(): RetentionPolicy;
  /** False until every policy source has been read once: planning on the defaults alone could delete what a cluster policy keeps. */
  policiesReady(): boolean;
  resolveOwners(identities: readonly ArchiveIdentity[]): Promise<OwnerLookup>;
  diskStats(): Promise<DiskStats>;
  execute(plan: RetentionPlan): Promise<unknown>;
  readonly metrics: RetentionMetrics;
  readonly logger: Logger;
  now(): number;
}

export interface RetentionRunner {
  /** Asks for a run; runs requested while one is in flight coalesce into one more run after it. */
  trigger(): Promise<void>;
  lastPlan(): RetentionPlan | undefined;
  lastRunMs(): number | undefined;
  owners(): OwnerLookup | undefined;
  /** Stops accepting triggers and waits for the run in flight (and its unlink) to finish. */
  stop(): Promise<void>;
}

export function createRetentionRunner(deps: RetentionRunnerDeps): RetentionRunner {
  let running: Promise<void> | undefined;
  let again = false;
  let stopped = false;
  let lastPlan: RetentionPlan | undefined;
  let lastRunMs: number | undefined;
  let owners: OwnerLookup | undefined;
  let unsatisfiableKeys = new Set<string>();

  const reportUnsatisfiable = (limits: readonly UnsatisfiableLimit[]): void => {
    // Logged once per change, not on every run, so a long-standing pin does not flood the log.
    const next = new Map(limits.map((u) => [`${u.namespace}/${u.pod}/${u.container}/${u.limit}`, u]));
    for (const [key, u] of next) {
      if (!unsatisfiableKeys.has(key)) deps.logger.warn({ limit: u }, `retention limit unsatisfiable: ${u.detail}`);
    }
    for (const key of unsatisfiableKeys) {
      if (!next.has(key)) deps.logger.info({ limit: key }, 'retention limit satisfiable again');
    }
    unsatisfiableKeys = new Set(next.keys());
  };

  let waitingLogged = false;
  const runOnce = async (): Promise<void> => {
    if (!deps.policiesReady()) {
      if (!waitingLogged) deps.logger.info('retention waits until the cluster policies have been listed once');
      waitingLogged = true;
      return;
    }
    const before = deps.snapshot();
    // Nothing to plan without a directory: a completed, empty run, so retention does not look stalled.
    if (!before.directoryPresent) {
      lastPlan = { deletions: [], unsatisfiable: [], effectiveLimits: [] };
      lastRunMs = deps.now();
      return;
    }
    // Planning on a partial view would count too few archives and pick the wrong oldest ones.
    if (!isComplete(before)) return;
    let plan: RetentionPlan;
    try {
      owners = await deps.resolveOwners(identitiesOf(before));
    } catch (error) {
      deps.metrics.recordError('plan');
      deps.logger.error({ err: error }, 'resolving archive owners failed; nothing deleted');
      return;
    }
    // Owner lookups can take a while; plan on the directory as it is now, not as it was before them.
    // Archives that appeared meanwhile were not looked up, so their owners are unknown: never orphans.
    const snapshot = deps.snapshot();
    if (!isComplete(snapshot)) return;
    let disk: DiskStats | undefined;
    try {
      disk = await deps.diskStats();
    } catch (error) {
      deps.metrics.recordError('statfs');
      deps.logger.warn({ err: error }, 'statfs failed; disk pressure retention skipped this run');
    }
    try {
      plan = planRetention({ snapshot, policy: deps.policy(), owners, disk, nowMs: deps.now() });
    } catch (error) {
      deps.metrics.recordError('plan');
      deps.logger.error({ err: error }, 'retention planning failed; nothing deleted');
      return;
    }
    lastPlan = plan;
    reportUnsatisfiable(plan.unsatisfiable);
    await deps.execute(plan);
    lastRunMs = deps.now();
  };

  const trigger = (): Promise<void> => {
    if (stopped) return Promise.resolve();
    if (running) {
      again = true;
      return running;
    }
    running = (async () => {
      do {
        again = false;
        try {
          await runOnce();
        } catch (error) {
          deps.logger.error({ err: error }, 'retention run failed');
        }
      } while (again && !stopped);
    })().finally(() => {
      running = undefined;
    });
    return running;
  };

  return {
    trigger,
    lastPlan: () => lastPlan,
    lastRunMs: () => lastRunMs,
    owners: () => owners,
    async stop() {
      stopped = true;
      await running;
    },
  };
}

function isComplete(snapshot: InventorySnapshot): boolean {
  return snapshot.directoryPresent && snapshot.initialScanComplete;
}

function identitiesOf(snapshot: InventorySnapshot): ArchiveIdentity[] {
  const seen = new Map<string, ArchiveIdentity>();
  for (const archive of snapshot.archives) {
    const id = archive.identity;
    if (id) seen.set(`${id.namespace}/${id.pod}/${id.container}`, id);
  }
  return [...seen.values()];
}
