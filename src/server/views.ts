import type { InventorySnapshot } from '../inventory/types.js';
import type { RetentionPlan } from '../retention/types.js';

/** JSON for GET /api/v1/archives and `ls --json`: identity, size, timestamp and pin state, by file basename. */
export function describeArchives(snapshot: InventorySnapshot): unknown {
  return {
    directory: snapshot.directory,
    directoryPresent: snapshot.directoryPresent,
    initialScanComplete: snapshot.initialScanComplete,
    pendingArchives: snapshot.pendingArchives,
    archives: snapshot.archives.map((a) => ({
      file: a.fileName,
      namespace: a.identity?.namespace ?? null,
      pod: a.identity?.pod ?? null,
      container: a.identity?.container ?? null,
      identified: a.identity !== undefined,
      identitySources: a.identitySources,
      unidentifiedReason: a.unidentifiedReason ?? null,
      sizeBytes: a.fingerprint.size,
      timestamp: new Date(a.name.timestampMs).toISOString(),
      pinned: a.pinned,
    })),
    unrecognized: snapshot.unrecognized.map((f) => ({ file: f.fileName, sizeBytes: f.size })),
  };
}

/** JSON for GET /api/v1/plan and `plan --json`: planned deletions and unsatisfiable limits only. */
export function describePlan(plan: RetentionPlan | undefined, lastRunMs: number | undefined, dryRun: boolean): unknown {
  return {
    dryRun,
    lastRun: lastRunMs === undefined ? null : new Date(lastRunMs).toISOString(),
    deletions: (plan?.deletions ?? []).map((d) => ({
      file: d.fileName,
      namespace: d.identity?.namespace ?? null,
      pod: d.identity?.pod ?? null,
      container: d.identity?.container ?? null,
      sizeBytes: d.fingerprint.size,
      reason: d.reason,
      limit: d.limitValue ?? null,
      scope: d.scope,
      policy: d.policySource,
      detail: d.detail,
    })),
    unsatisfiable: plan?.unsatisfiable ?? [],
  };
}
