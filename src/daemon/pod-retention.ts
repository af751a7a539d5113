import type { Logger } from 'pino';
import type { Inventory } from '../inventory/inventory.js';
import type { PodCheckpointView } from '../kubernetes/pod-checkpoint-watch.js';
import type { RetentionExecutor } from '../retention/execute.js';
import type { ArchiveRecord, InventorySnapshot } from '../inventory/types.js';
import { resolvePodArchiveIdentities, type PodIdentityConflict } from '../retention/pod-archive-identity.js';
import { planPodArchives } from '../retention/pod-scope-policy.js';
import type { OwnerLookup, OwnerState, PlannedDeletion, RetentionPlan, RetentionPolicy } from '../retention/types.js';
import { podOrphansMayGo, podOwnerIdentity, resolvePodArchiveOwners, type PodOrphanClock } from '../retention/pod-archive-orphans.js';
import type { ArchiveIdentity } from '../archive/types.js';

/**
 * Retention of pod-level archives: the pod scope of the policy in force (pod-scope-policy.ts), planned
 * on the pod inventory's snapshot and carried out by the pod checkpoint directory's one executor
 * (pod-wiring.ts: disk pressure deletes there through it too), with every check before an unlink (the
 * directory is the one listed, the file unchanged, no pin). It runs after a change of that directory, a policy change, and every
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
  /** The pod checkpoint directory's one executor, shared with disk pressure (pod-wiring.ts). */
  readonly executor: RetentionExecutor;
  readonly intervalMs: number;
  readonly futureToleranceMs: number | undefined;
  readonly logger: Logger;
  readonly now: () => number;
  /** PodCheckpoint objects, with an API server: an archive one references is kept. */
  readonly podCheckpoints?: (() => ReturnType<PodCheckpointView['state']>) | undefined;
  /** The pod view's answer for the pods of pod archives (KubernetesConnection.resolvePodOwners); absent without an API server. */
  readonly podOwners?: ((identities: readonly ArchiveIdentity[]) => Promise<OwnerLookup>) | undefined;
  /** Measures how long an archive has been orphaned; never steps. Defaults to performance.now(). */
  readonly monotonicNow?: () => number;
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

/**
 * The planned deletions that still hold against the objects as they are now: none while the objects are
 * not known, none of an archive gone from the listing or in a disagreement, and none of a referenced
 * one unless the policy lets the limits take referenced archives.
 */
export function stillDeletable(deletions: readonly PlannedDeletion[], now: ReturnType<typeof podPlanInput>, policy: RetentionPolicy): PlannedDeletion[] {
  if (now === undefined) return [];
  const listed = new Set(now.snapshot.archives.map((record) => record.fileName));
  const keepReferenced = !policy.global.deleteReferencedPodCheckpoints;
  return deletions.filter((deletion) => listed.has(deletion.fileName) && !(keepReferenced && now.referenced.has(deletion.fileName)));
}

export function createPodRetention(deps: PodRetentionDeps): PodRetention {
  const logger = deps.logger.child({ inventory: 'pod' });
  const { executor } = deps;
  let running: Promise<void> | undefined;
  let again = false;
  let stopped = false;
  let last: RetentionPlan | undefined;
  /** Name/object disagreements already logged, so each is said once while it lasts. */
  let reported = new Set<string>();
  /** Since when each pod archive has been continuously an orphan, as this process saw it (pod-archive-orphans.ts). */
  let orphanClock: PodOrphanClock = new Map();
  const monotonicNow = deps.monotonicNow ?? (() => performance.now());

  /**
   * Each archive's state for the orphan rule, or undefined (no pod archive is an orphan, every clock
   * starts again): objects not known or not served, no pod view, or no policy that could delete one.
   */
  async function resolveOrphans(
    snapshot: InventorySnapshot,
    state: ReturnType<PodCheckpointView['state']>,
    referenced: ReadonlySet<string>,
    conflicting: ReadonlySet<string>,
    policy: RetentionPolicy,
  ): Promise<((record: ArchiveRecord) => OwnerState) | undefined> {
    if (state.kind !== 'known' || deps.podOwners === undefined || !podOrphansMayGo(policy)) {
      orphanClock = new Map();
      return undefined;
    }
    // Only the pods of archives that could be orphans are looked up.
    const pods = new Map<string, ArchiveIdentity>();
    for (const record of snapshot.archives) {
      if (record.identity === undefined || record.pinned || referenced.has(record.fileName) || conflicting.has(record.fileName)) continue;
      const pod = podOwnerIdentity(record.identity);
      pods.set(`${pod.namespace}/${pod.pod}`, pod);
    }
    const lookup = pods.size === 0 ? undefined : await deps.podOwners([...pods.values()]);
    const owners = resolvePodArchiveOwners(snapshot.archives, { objects: state.kind, referenced, conflicting, pods: lookup }, orphanClock, { nowMs: deps.now(), monotonicMs: monotonicNow() });
    orphanClock = owners.clock;
    return owners.ownerOf;
  }

  async function runOnce(): Promise<void> {
    if (!deps.ready() || !deps.inventory.status().initialScanComplete) return;
    const listed = deps.inventory.snapshot();
    if (!listed.directoryPresent || listed.archives.length === 0) return;
    // A referenced archive is a restore the API still offers: kept as a pin is (counted, never planned)
    // unless the policy sets deleteReferencedPodCheckpoints (planPodArchives). While the objects are not
    // known (not listed yet, the list failing) nothing is deleted at all, whatever the policy says.
    const state = deps.podCheckpoints?.() ?? { kind: 'absent' };
    const input = podPlanInput(listed, state);
    if (input === undefined) {
      orphanClock = new Map();
      return;
    }
    const { referenced, conflicts } = input;
    const current = new Set<string>();
    for (const conflict of conflicts) {
      const key = `${conflict.fileName} ${conflict.object} ${conflict.fromObject}`;
      current.add(key);
      if (!reported.has(key)) logger.warn({ fileName: conflict.fileName, fromName: conflict.fromName, fromObject: conflict.fromObject, podCheckpoint: conflict.object }, conflict.message);
    }
    reported = current;
    const policy = deps.policy();
    // An orphan is an archive no live object references whose pod is gone: referenced ones and those in
    // a disagreement never are (the latter are not in input.snapshot at all).
    const orphans = await resolveOrphans(input.snapshot, state, referenced, new Set(conflicts.map((c) => c.fileName)), policy);
    if (stopped) return;
    const plan = planPodArchives({
      snapshot: input.snapshot,
      referenced,
      ...(orphans !== undefined ? { orphans } : {}),
      policy,
      nowMs: deps.now(),
      ...(deps.futureToleranceMs !== undefined ? { futureToleranceMs: deps.futureToleranceMs } : {}),
    });
    last = plan;
    if (plan.deletions.length === 0) return;
    // The pods were looked up over the network meanwhile: readiness or the objects may have moved on.
    // Nothing is deleted once the policies are in doubt again, and an archive an object references now,
    // or now in a disagreement, is not deleted by a plan made before it was (the executor checks the
    // file and its pin, not the objects); the next run plans with what is known then (a change of the
    // policy asks for one of its own).
    if (!deps.ready()) return;
    const deletions = stillDeletable(plan.deletions, podPlanInput(deps.inventory.snapshot(), deps.podCheckpoints?.() ?? { kind: 'absent' }), policy);
    if (deletions.length < plan.deletions.length) again = true;
    if (deletions.length === 0) return;
    for (const deletion of deletions) logger.info({ fileName: deletion.fileName, reason: deletion.reason, dryRun: deps.dryRun }, deletion.detail);
    const result = await executor.execute({ ...plan, deletions });
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
