import { compareArchiveAge } from '../archive/age-order.js';
import type { ArchiveIdentity } from '../archive/types.js';
import type { ArchiveRecord } from '../inventory/types.js';
import type { DeletionReason, OwnerLookup, OwnerState, PlannedDeletion, ScopeRef } from './types.js';

/**
 * The state one planner call works on, shared by its passes (per-archive limits, group limits, disk
 * pressure) and by the node-wide disk-pressure pass: archives as entries that know their container and
 * whether they are already planned, and the ledger that plans them. It lives for one call.
 */

export type Level = 'container' | 'pod' | 'namespace';

/** Count and total-size limits of one group of archives. */
export interface Rule {
  readonly level: Level;
  readonly count: number;
  readonly totalSize: number;
  readonly countSource: string;
  readonly totalSizeSource: string;
  /** Under the count limit, archives known to be unrestorable go before older restorable ones. */
  readonly unrestorableFirst?: boolean;
}

/** The most specific policy covering a container, with its limits made explicit (unset = 0 = none). */
export interface Governor {
  readonly level: Level | 'global';
  readonly retainOrphan: boolean;
  readonly maxCheckpoints: number;
  readonly maxCheckpointSize: number;
  readonly maxTotalSize: number;
  readonly maxCheckpointAgeSeconds: number;
  /** The governing policy part; for the global policy each field may have its own source, below. */
  readonly source: string;
  readonly sizeSource: string;
  readonly ageSource: string;
  readonly orphanSource: string;
  /** Where per-archive limits (size, age) are labelled: the governing policy's scope, or the container for global. */
  readonly scope: ScopeRef;
  readonly where: string;
}

export interface Group {
  readonly rule: Rule;
  readonly scope: ScopeRef;
  /** Oldest first. */
  readonly members: Entry[];
}

/** Planning state of one container. */
export interface ContainerState {
  readonly identity: ArchiveIdentity;
  readonly governor: Governor;
  readonly groups: readonly Group[];
  /** Oldest first. */
  readonly entries: Entry[];
  owner: OwnerState | undefined;
}

export interface Entry {
  readonly record: ArchiveRecord;
  readonly identity: ArchiveIdentity;
  readonly container: ContainerState;
  planned: boolean;
}

/** Records planned deletions on the entries themselves, so "already planned" is one field read. */
export interface PlanLedger {
  readonly deletions: PlannedDeletion[];
  plan(entry: Entry, reason: DeletionReason, limitValue: number | undefined, scope: ScopeRef, policySource: string, detail: string): void;
  /** The container's owner, looked up once per container and call. */
  ownerOf(container: ContainerState): OwnerState;
}

export function createPlanLedger(owners: OwnerLookup): PlanLedger {
  const deletions: PlannedDeletion[] = [];
  return {
    deletions,
    plan(entry, reason, limitValue, scope, policySource, detail) {
      entry.planned = true;
      deletions.push({ fileName: entry.record.fileName, fingerprint: entry.record.fingerprint, identity: entry.identity, reason, limitValue, scope, policySource, detail });
    },
    ownerOf(container) {
      container.owner ??= owners(container.identity);
      return container.owner;
    },
  };
}

export interface PlanEntries {
  /** Oldest first (compareArchiveAge). */
  readonly entries: Entry[];
  /** Every container with an entry, in the order their oldest entries come. */
  readonly containers: Set<ContainerState>;
  /** Future-dated archives' file names, in the order they came. */
  readonly futureDated: string[];
}

/**
 * The entries of the archives a planner call may count and delete: identified, and not dated beyond
 * `futureLimitMs`. A name dated beyond the tolerance would sort as the newest archive for as long as
 * the clock lags it, so every real new checkpoint would be the one deleted; such an archive is set
 * aside (it neither counts toward a limit nor is deleted by one) until its time has come.
 * Unidentified archives are left out: nothing says which scope they belong to.
 */
export function collectEntries(archives: Iterable<ArchiveRecord>, resolve: (id: ArchiveIdentity) => ContainerState, futureLimitMs: number): PlanEntries {
  const futureDated: string[] = [];
  const entries: Entry[] = [];
  for (const record of archives) {
    if (!record.identity) continue;
    if (record.name.timestampMs > futureLimitMs) {
      futureDated.push(record.fileName);
      continue;
    }
    entries.push({ record, identity: record.identity, container: resolve(record.identity), planned: false });
  }
  entries.sort((a, b) => compareArchiveAge(a.record, b.record));
  const containers = new Set<ContainerState>();
  for (const entry of entries) {
    containers.add(entry.container);
    entry.container.entries.push(entry);
    for (const group of entry.container.groups) group.members.push(entry);
  }
  return { entries, containers, futureDated };
}

/** An orphan whose owner has been gone for at least the grace period: what the orphan rule and disk pressure may take. */
export const orphanPastGrace =
  (nowMs: number, graceMs: number) =>
  (owner: OwnerState): boolean =>
    owner.state === 'orphan' && nowMs - owner.sinceMs >= graceMs;
