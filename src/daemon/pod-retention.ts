import type { Logger } from 'pino';
import type { Inventory } from '../inventory/inventory.js';
import type { PodCheckpointView } from '../kubernetes/pod-checkpoint-watch.js';
import { createRetentionExecutor, type RetentionExecutor } from '../retention/execute.js';
import type { InventorySnapshot } from '../inventory/types.js';
import { resolvePodArchiveIdentities, type PodIdentityConflict } from '../retention/pod-archive-identity.js';
import { planPodArchives } from '../retention/pod-scope-policy.js';
import type { RetentionObserver, RetentionPlan, RetentionPolicy } from '../retention/types.js';

/**
 * Retention of pod-level archives: the pod scope of the policy in force (pod-scope-policy.ts), planned
 * on the pod inventory's snapshot and carried out by an executor of its own, given the pod checkpoint
 * directory and nothing else, with every check before an unlink (the directory is the one listed, the
 * file unchanged, no pin). It runs after a change of that directory, a policy change, and every
 * `intervalMs` (ages pass without events); one run at a time, a request during a run runs once more after it.
 */
export interface PodRetention {
  request(): void;
  lastPlan(): RetentionPlan | undefined;
  stop(): Promise<void>;
}

export interface PodRetentionDeps {
  readonly directory: string;
  readonly inventory: Inventory;
  readonly policy: () => RetentionPolicy;
  /** False while the policies are not known yet (cluster policies not listed, an invalid object): nothing is deleted. */
  readonly ready: () => boolean;
  readonly dryRun: boolean;
  readonly observer: RetentionObserver;
  readonly intervalMs: number;
  readonly futureToleranceMs: number | undefined;
  readonly logger: Logger;
  readonly now: () => number;
  /** PodCheckpoint objects, with an API server: an archive one references is kept. */
  readonly podCheckpoints?: (() => ReturnType<PodCheckpointView['state']>) | undefined;
}

/** The archive file names live PodCheckpoint objects reference; undefined while they are not known. */
export function referencedArchives(state: ReturnType<PodCheckpointView['state']>): ReadonlySet<string> | undefined {
  if (state.kind === 'unknown') return undefined;
  if (state.kind === 'absent') return new Set();
  return new Set(state.objects.flatMap((object) => (object.archiveFileName === undefined ? [] : [object.archiveFileName])));
}

/**
 * What the pod plan is made from: the archives, less those whose name and a PodCheckpoint object name
 * different pods (kept and left out of the plan, pod-archive-identity.ts), and the referenced file
 * names. Undefined while the objects are not known: nothing is planned then.
 */
export function podPlanInput(
  listed: InventorySnapshot,
  state: ReturnType<PodCheckpointView['state']>,
): { readonly snapshot: InventorySnapshot; readonly referenced: ReadonlySet<string>; readonly conflicts: readonly PodIdentityConflict[] } | undefined {
  const referenced = referencedArchives(state);
  if (referenced === undefined) return undefined;
  const conflicts = state.kind === 'known' ? resolvePodArchiveIdentities(listed.archives, state.objects).conflicts : [];
  const conflicting = new Set(conflicts.map((c) => c.fileName));
  const snapshot = conflicting.size === 0 ? listed : { ...listed, archives: listed.archives.filter((record) => !conflicting.has(record.fileName)) };
  return { snapshot, referenced, conflicts };
}

export function createPodRetention(deps: PodRetentionDeps): PodRetention {
  const logger = deps.logger.child({ inventory: 'pod' });
  const executor: RetentionExecutor = createRetentionExecutor({ directory: deps.directory, dryRun: deps.dryRun, logger, observer: deps.observer });
  let running: Promise<void> | undefined;
  let again = false;
  let stopped = false;
  let last: RetentionPlan | undefined;
  /** Name/object disagreements already logged, so each is said once while it lasts. */
  let reported = new Set<string>();

  async function runOnce(): Promise<void> {
    if (!deps.ready() || !deps.inventory.status().initialScanComplete) return;
    const listed = deps.inventory.snapshot();
    if (!listed.directoryPresent || listed.archives.length === 0) return;
    // A referenced archive is a restore the API still offers: kept as a pin is (counted, never planned)
    // unless the policy sets deleteReferencedPodCheckpoints (planPodArchives). While the objects are not
    // known (not listed yet, the list failing) nothing is deleted at all, whatever the policy says.
    const input = podPlanInput(listed, deps.podCheckpoints?.() ?? { kind: 'absent' });
    if (input === undefined) return;
    const { referenced, conflicts } = input;
    const current = new Set<string>();
    for (const conflict of conflicts) {
      const key = `${conflict.fileName} ${conflict.object} ${conflict.fromObject}`;
      current.add(key);
      if (!reported.has(key)) logger.warn({ fileName: conflict.fileName, fromName: conflict.fromName, fromObject: conflict.fromObject, podCheckpoint: conflict.object }, conflict.message);
    }
    reported = current;
    const plan = planPodArchives({
      snapshot: input.snapshot,
      referenced,
      policy: deps.policy(),
      nowMs: deps.now(),
      ...(deps.futureToleranceMs !== undefined ? { futureToleranceMs: deps.futureToleranceMs } : {}),
    });
    last = plan;
    if (plan.deletions.length === 0) return;
    for (const deletion of plan.deletions) logger.info({ fileName: deletion.fileName, reason: deletion.reason, dryRun: deps.dryRun }, deletion.detail);
    const result = await executor.execute(plan);
    // The next plan must not see what was just unlinked.
    if (result.deleted > 0) await deps.inventory.refresh(result.outcomes.filter((o) => o.outcome === 'deleted').map((o) => o.deletion.fileName));
  }

  function request(): void {
    if (stopped) return;
    if (running !== undefined) {
      again = true;
      return;
    }
    running = (async () => {
      try {
        do {
          again = false;
          await runOnce();
        } while (again && !stopped);
      } catch (error) {
        logger.error({ err: error }, 'pod-level retention run failed');
      } finally {
        running = undefined;
      }
    })();
  }

  const unsubscribe = deps.inventory.subscribe(() => request());
  const timer = setInterval(request, deps.intervalMs);
  timer.unref();

  return {
    request,
    lastPlan: () => last,
    async stop() {
      stopped = true;
      clearInterval(timer);
      unsubscribe();
      await running;
      await executor.idle();
    },
  };
}
