import type { ArchiveRecord } from '../inventory/types.js';
import type { EffectiveLimit, PlannedDeletion, RetentionPlan, UnsatisfiableLimit } from '../retention/types.js';

/** One namespace's share of its latest plan. */
export interface PlanPart {
  readonly deletions: readonly PlannedDeletion[];
  readonly unsatisfiable: readonly UnsatisfiableLimit[];
  readonly effectiveLimits: readonly EffectiveLimit[];
  readonly futureDated: readonly string[];
}

interface MutablePlanPart {
  readonly deletions: PlannedDeletion[];
  readonly unsatisfiable: UnsatisfiableLimit[];
  readonly effectiveLimits: EffectiveLimit[];
  readonly futureDated: string[];
}

/**
 * The plan in force: the latest plan of every namespace (a namespace holds every scope its archives
 * count in, so namespaces are planned independently), plus the node-wide disk-pressure deletions.
 * A runner replaces the parts it planned again; readers get the merge, built once per change.
 */
export interface PlanStore {
  /** Replaces the parts of these namespaces by their shares of `plan`, a plan of exactly `archives`; a namespace with no share has no part. */
  replaceNamespaces(namespaces: readonly string[], plan: RetentionPlan, archives: readonly ArchiveRecord[]): void;
  /** Drops the parts of namespaces that no longer exist. */
  retainNamespaces(exists: (namespace: string) => boolean): void;
  setNodeDeletions(deletions: readonly PlannedDeletion[]): void;
  clear(): void;
  /** How many namespaces have a part. */
  readonly size: number;
  parts(): IterableIterator<PlanPart>;
  /** Every file a namespace part deletes. */
  plannedFileNames(): Set<string>;
  /** The merge of every part and the node-wide deletions; the same object until something changes. */
  merged(): RetentionPlan;
}

const NO_DELETIONS: readonly PlannedDeletion[] = Object.freeze([]);

export function createPlanStore(): PlanStore {
  const parts = new Map<string, PlanPart>();
  let nodeDeletions = NO_DELETIONS;
  let merged: RetentionPlan | undefined;

  return {
    replaceNamespaces(namespaces, plan, archives) {
      const shares = splitByNamespace(plan, archives);
      for (const namespace of namespaces) {
        const part = shares.get(namespace);
        if (part === undefined) parts.delete(namespace);
        else parts.set(namespace, part);
      }
      merged = undefined;
    },
    retainNamespaces(exists) {
      for (const namespace of parts.keys()) if (!exists(namespace)) parts.delete(namespace);
      merged = undefined;
    },
    setNodeDeletions(deletions) {
      if (deletions.length === 0 && nodeDeletions.length === 0) return;
      nodeDeletions = deletions.length === 0 ? NO_DELETIONS : deletions;
      merged = undefined;
    },
    clear() {
      parts.clear();
      nodeDeletions = NO_DELETIONS;
      merged = undefined;
    },
    get size() {
      return parts.size;
    },
    parts: () => parts.values(),
    plannedFileNames() {
      const names = new Set<string>();
      for (const part of parts.values()) for (const d of part.deletions) names.add(d.fileName);
      return names;
    },
    merged() {
      merged ??= mergeParts(parts.values(), nodeDeletions);
      return merged;
    },
  };
}

/** Each namespace's share of a plan: its deletions, limits and future-dated archives (those of no namespace under ''). */
export function splitByNamespace(plan: RetentionPlan, archives: readonly ArchiveRecord[]): Map<string, PlanPart> {
  const byNamespace = new Map<string, MutablePlanPart>();
  const partOf = (namespace: string): MutablePlanPart => {
    let part = byNamespace.get(namespace);
    if (part === undefined) byNamespace.set(namespace, (part = { deletions: [], unsatisfiable: [], effectiveLimits: [], futureDated: [] }));
    return part;
  };
  const namespaceOfFile = new Map<string, string>();
  for (const record of archives) if (record.identity !== undefined) namespaceOfFile.set(record.fileName, record.identity.namespace);
  for (const fileName of plan.futureDated ?? []) partOf(namespaceOfFile.get(fileName) ?? '').futureDated.push(fileName);
  for (const d of plan.deletions) partOf(d.identity?.namespace ?? '').deletions.push(d);
  for (const u of plan.unsatisfiable) partOf(u.namespace).unsatisfiable.push(u);
  for (const l of plan.effectiveLimits) partOf(l.namespace).effectiveLimits.push(l);
  return byNamespace;
}

function mergeParts(parts: Iterable<PlanPart>, nodeDeletions: readonly PlannedDeletion[]): RetentionPlan {
  const deletions: PlannedDeletion[] = [];
  const unsatisfiable: UnsatisfiableLimit[] = [];
  const effectiveLimits: EffectiveLimit[] = [];
  const futureDated: string[] = [];
  for (const part of parts) {
    for (const d of part.deletions) deletions.push(d);
    for (const u of part.unsatisfiable) unsatisfiable.push(u);
    for (const l of part.effectiveLimits) effectiveLimits.push(l);
    for (const f of part.futureDated) futureDated.push(f);
  }
  for (const d of nodeDeletions) deletions.push(d);
  return { deletions, unsatisfiable, effectiveLimits, futureDated };
}
