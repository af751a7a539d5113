import type { Inventory } from '../inventory/inventory.js';
import type { PodCheckpointView } from '../kubernetes/pod-checkpoint-watch.js';
import type { RetentionExecutor } from '../retention/execute.js';
import type { RetentionPlan } from '../retention/types.js';
import { readDiskStats } from './disk-stats.js';
import { podPlanInput } from './pod-retention.js';
import type { PodPressureSource } from './retention-runner.js';

/** How often the PodCheckpoint objects' state is looked at for a change from not known to known (the view sends no event). */
const OBJECTS_POLL_MS = 2_000;

export interface PodDiskPressureDeps {
  readonly directory: string;
  readonly inventory: Inventory;
  /**
   * The pod checkpoint directory's one executor, shared with pod retention (pod-wiring.ts): its plans
   * run one after the other, so an archive both plans take is unlinked once and the second finds it gone.
   */
  readonly executor: RetentionExecutor;
  /** The pod plan in force (pod-retention.ts): what it deletes by a limit counts as freed. */
  readonly podPlan: () => RetentionPlan | undefined;
  /** PodCheckpoint objects, with an API server: an archive one references is kept. */
  readonly podCheckpoints?: (() => ReturnType<PodCheckpointView['state']>) | undefined;
  /** Default OBJECTS_POLL_MS. */
  readonly objectsPollMs?: number;
}

export interface PodDiskPressure extends PodPressureSource {
  /**
   * Calls `listener` after each batch of changes of the pod checkpoint directory, and when the
   * PodCheckpoint objects become known (pod archives may be planned again); returns the unsubscribe.
   */
  subscribe(listener: () => void): () => void;
}

/**
 * The pod checkpoint directory as disk pressure sees it (retention-runner.ts): its archives, by the
 * same input the pod plan is made from (podPlanInput: name/object conflicts left out, the referenced
 * file names), only once its first scan is complete and while the PodCheckpoint objects are known, and
 * the directory's one executor, given that directory and nothing else, with every check before an
 * unlink. Pod archives are never offloaded: that executor has no offloader.
 */
export function createPodDiskPressure(deps: PodDiskPressureDeps): PodDiskPressure {
  const { executor } = deps;
  // Without an API server the files alone decide: nothing to wait for.
  let objectsListedOnce = deps.podCheckpoints === undefined;
  const objectsState = (): ReturnType<PodCheckpointView['state']> => {
    const state = deps.podCheckpoints?.() ?? { kind: 'absent' };
    if (state.kind !== 'unknown') objectsListedOnce = true;
    return state;
  };
  return {
    device() {
      const status = deps.inventory.status();
      return status.directoryPresent ? status.directoryIdentity?.dev : undefined;
    },
    pending() {
      const status = deps.inventory.status();
      if (status.directoryPresent && status.directoryReadable && !status.initialScanComplete) return true;
      return !objectsListedOnce && objectsState().kind === 'unknown';
    },
    archives() {
      if (!deps.inventory.status().initialScanComplete) return undefined;
      const listed = deps.inventory.snapshot();
      const directoryIdentity = listed.directoryIdentity;
      if (!listed.directoryPresent || directoryIdentity === undefined) return undefined;
      // While the objects are not known nothing of the pod directory is deleted, whatever the policy says.
      const input = podPlanInput(listed, objectsState());
      if (input === undefined) return undefined;
      const alreadyPlanned = new Set((deps.podPlan()?.deletions ?? []).map((d) => d.fileName));
      return { archives: input.snapshot.archives, referenced: input.referenced, alreadyPlanned, directoryIdentity };
    },
    diskStats: () => readDiskStats(deps.directory),
    execute: (plan) => executor.execute(plan),
    refresh: (fileNames) => deps.inventory.refresh(fileNames),
    subscribe(listener) {
      const unsubscribe = deps.inventory.subscribe(() => listener());
      if (deps.podCheckpoints === undefined) return unsubscribe;
      let known = objectsState().kind !== 'unknown';
      const timer = setInterval(() => {
        const now = objectsState().kind !== 'unknown';
        if (now && !known) listener();
        known = now;
      }, deps.objectsPollMs ?? OBJECTS_POLL_MS);
      timer.unref();
      return () => {
        unsubscribe();
        clearInterval(timer);
      };
    },
  };
}
