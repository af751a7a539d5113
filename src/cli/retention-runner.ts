import type { Logger } from 'pino';
import type { ArchiveIdentity } from '../archive/types.js';
import type { InventorySnapshot } from '../inventory/types.js';
import type { RetentionMetrics } from '../metrics/retention-collector.js';
import { planRetention } from '../retention/plan.js';
import type { DiskStats, OwnerLookup, RetentionPlan, RetentionPolicy, UnsatisfiableLimit } from '../retention/types.js';

export interface RetentionRunnerDeps {
  snapshot(): InventorySnapshot;
  policy(): RetentionPolicy;
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

  const runOnce = async (): Promise<void> => {
    const snapshot = deps.snapshot();
    // Planning on a partial view would count too few archives and pick the wrong oldest ones.
    if (!snapshot.directoryPresent || !snapshot.initialScanComplete) return;
    let disk: DiskStats | undefined;
    try {
      disk = await deps.diskStats();
    } catch (error) {
      deps.metrics.recordError('statfs');
      deps.logger.warn({ err: error }, 'statfs failed; disk pressure retention skipped this run');
    }
    let plan: RetentionPlan;
    try {
      owners = await deps.resolveOwners(identitiesOf(snapshot));
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

function identitiesOf(snapshot: InventorySnapshot): ArchiveIdentity[] {
  const seen = new Map<string, ArchiveIdentity>();
  for (const archive of snapshot.archives) {
    const id = archive.identity;
    if (id) seen.set(`${id.namespace}/${id.pod}/${id.container}`, id);
  }
  return [...seen.values()];
}
