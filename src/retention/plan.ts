import { compareArchiveAge } from '../archive/age-order.js';
import type { InventorySnapshot } from '../inventory/types.js';
import { formatDuration } from './duration.js';
import { describeEffectiveLimits } from './effective-limits.js';
import { planDiskPressure } from './plan-disk-pressure.js';
import { createScopeResolver, describeScope, labelKey, labelsOf, orderGroups, type ContainerState, type Entry } from './plan-scopes.js';
import { formatBytes } from './quantity.js';
import type { DeletionReason, DiskStats, LimitName, OwnerLookup, OwnerState, PlannedDeletion, RetentionPlan, RetentionPolicy, ScopeRef, UnsatisfiableLimit } from './types.js';

export interface PlanInput {
  /** The archives to plan (a whole snapshot, or every archive of some namespaces) and the directory they are in. */
  readonly snapshot: Pick<InventorySnapshot, 'archives' | 'directoryIdentity'> & Partial<InventorySnapshot>;
  readonly policy: RetentionPolicy;
  readonly owners: OwnerLookup;
  readonly disk: DiskStats | undefined;
  readonly nowMs: number;
  /** How far ahead of now a name's time may lie before the archive is future-dated (default 10 minutes). */
  readonly futureToleranceMs?: number;
}

/** Clocks disagree by seconds, not by ten minutes: beyond this, a name's time is not to be trusted. */
export const DEFAULT_FUTURE_TOLERANCE_MS = 10 * 60_000;

/** Records planned deletions on the entries themselves, so "already planned" is one field read. */
export interface PlanLedger {
  readonly deletions: PlannedDeletion[];
  plan(entry: Entry, reason: DeletionReason, limitValue: number | undefined, scope: ScopeRef, policySource: string, detail: string): void;
  ownerOf(container: ContainerState): OwnerState;
}

const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;

/**
 * Decides which archives go, on one consistent snapshot, without touching the filesystem.
 *
 * Per archive the most specific policy wins (container → pod → namespace → global), scopes matched
 * exactly. Per-archive limits go first (`size`, then `age`, then `orphan`), then the count and total
 * size limits of each group, narrowest level first and oldest first, so a broader limit only sees
 * what narrower ones kept and nothing is deleted twice or needlessly. Disk pressure comes last and
 * only takes what is still needed. Pinned archives count but are never planned. Unidentified archives
 * are neither counted nor planned, since nothing says which scope they belong to; disk pressure
 * skips them too, because deleting a file we cannot attribute would bypass keepNewestPerContainer.
 */
export function planRetention(input: PlanInput): RetentionPlan {
  const { snapshot, policy, nowMs } = input;
  const resolve = createScopeResolver(policy);
  const unsatisfiable = new Map<string, UnsatisfiableLimit>();
  const deletions: PlannedDeletion[] = [];
  const ledger: PlanLedger = {
    deletions,
    plan(entry, reason, limitValue, scope, policySource, detail) {
      entry.planned = true;
      deletions.push({ fileName: entry.record.fileName, fingerprint: entry.record.fingerprint, identity: entry.identity, reason, limitValue, scope, policySource, detail });
    },
    ownerOf(container) {
      container.owner ??= input.owners(container.identity);
      return container.owner;
    },
  };
  const reportUnsatisfiable = (scope: ScopeRef, limit: LimitName, value: number, policySource: string, detail: string): void => {
    const labels = labelsOf(scope, limit);
    const key = labelKey(labels);
    if (!unsatisfiable.has(key)) unsatisfiable.set(key, { ...labels, value, policySource, detail });
  };

  // A name dated beyond the tolerance would sort as the newest archive for as long as the clock
  // lags it, so every real new checkpoint would be the one deleted. Such an archive is set aside: it
  // neither counts toward a limit nor is deleted by one, until its time has come.
  const futureLimitMs = nowMs + (input.futureToleranceMs ?? DEFAULT_FUTURE_TOLERANCE_MS);
  const futureDated: string[] = [];
  const entries: Entry[] = [];
  for (const record of snapshot.archives) {
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

  const graceMs = policy.orphanGracePeriodSeconds * 1000;
  for (const entry of entries) {
    const { record } = entry;
    const governor = entry.container.governor;
    const size = record.fingerprint.size;
    if (governor.maxCheckpointSize > 0 && size > governor.maxCheckpointSize) {
      const text = `${record.fileName} is ${formatBytes(size)}, over the ${formatBytes(governor.maxCheckpointSize)} per-archive limit of ${governor.where} (${governor.sizeSource})`;
      if (record.pinned) reportUnsatisfiable(governor.scope, 'size', governor.maxCheckpointSize, governor.sizeSource, `pinned ${text}`);
      else ledger.plan(entry, 'size', governor.maxCheckpointSize, governor.scope, governor.sizeSource, text);
      continue;
    }
    const ageSeconds = Math.floor((nowMs - record.name.timestampMs) / 1000);
    if (governor.maxCheckpointAgeSeconds > 0 && ageSeconds > governor.maxCheckpointAgeSeconds) {
      const limit = governor.maxCheckpointAgeSeconds;
      const text = `${record.fileName} is ${formatDuration(ageSeconds)} old, over the ${formatDuration(limit)} age limit of ${governor.where} (${governor.ageSource})`;
      if (record.pinned) reportUnsatisfiable(governor.scope, 'age', limit, governor.ageSource, `pinned ${text}`);
      else ledger.plan(entry, 'age', limit, governor.scope, governor.ageSource, text);
      continue;
    }
    if (!governor.retainOrphan && !record.pinned) {
      const owner = ledger.ownerOf(entry.container);
      if (owner.state === 'orphan' && nowMs - owner.sinceMs >= graceMs) {
        const gone = formatDuration(Math.max(0, Math.floor((nowMs - owner.sinceMs) / 1000)));
        const text = `pod ${entry.identity.namespace}/${entry.identity.pod} has been gone for ${gone} (grace ${formatDuration(policy.orphanGracePeriodSeconds)}) and retainOrphan is false (${governor.orphanSource})`;
        ledger.plan(entry, 'orphan', undefined, governor.scope, governor.orphanSource, text);
      }
    }
  }

  for (const { rule, scope, members } of orderGroups(containers)) {
    const where = describeScope(scope);
    if (rule.count > 0) {
      const kept = members.filter((m) => !m.planned);
      let excess = kept.length - rule.count;
      const pinned = kept.filter((m) => m.record.pinned).length;
      // Pins alone fill the limit: every unpinned archive, the newest included, must go. The limit is
      // kept, but the operator must hear of it: the scope is unsatisfiable and each deletion says why.
      const forced = pinned >= rule.count ? `; forced by pins: ${plural(pinned, 'pinned archive')} fill the limit of ${rule.count}` : '';
      if (excess > 0) {
        const text = `${where} has ${plural(kept.length, 'archive')}, limit ${rule.count} (${rule.countSource})${forced}`;
        // deleteUnrestorableFirst: archives known to lack an entry a restore needs go first, oldest first;
        // then the rest, oldest first. Archives whose restorability is unknown count as restorable.
        const order = rule.unrestorableFirst ? [...kept.filter((m) => m.record.restorable === false), ...kept.filter((m) => m.record.restorable !== false)] : kept;
        for (const entry of order) {
          if (excess === 0) break;
          if (entry.record.pinned) continue;
          const why = rule.unrestorableFirst && entry.record.restorable === false ? `${text}; unrestorable first (missing ${(entry.record.missingEntries ?? []).join(', ')})` : text;
          ledger.plan(entry, 'count', rule.count, scope, rule.countSource, why);
          excess -= 1;
        }
        if (excess > 0) {
          const detail = `${where} keeps ${plural(rule.count + excess, 'archive')} because of pins, limit ${rule.count} (${rule.countSource})`;
          reportUnsatisfiable(scope, 'count', rule.count, rule.countSource, detail);
        }
      }
      if (pinned >= rule.count && kept.length > 0) {
        const detail = `${where}: ${plural(pinned, 'pinned archive')} fill the limit of ${rule.count}, so no unpinned archive can be kept (${rule.countSource})`;
        reportUnsatisfiable(scope, 'count', rule.count, rule.countSource, detail);
      }
    }
    if (rule.totalSize > 0) {
      const kept = members.filter((m) => !m.planned);
      let total = kept.reduce((sum, m) => sum + m.record.fingerprint.size, 0);
      const pinnedBytes = kept.reduce((sum, m) => sum + (m.record.pinned ? m.record.fingerprint.size : 0), 0);
      const forced = pinnedBytes >= rule.totalSize ? `; forced by pins: pinned archives hold ${formatBytes(pinnedBytes)} of the ${formatBytes(rule.totalSize)} limit` : '';
      if (total > rule.totalSize) {
        const text = `${where} holds ${formatBytes(total)} in ${plural(kept.length, 'archive')}, limit ${formatBytes(rule.totalSize)} (${rule.totalSizeSource})${forced}`;
        for (const entry of kept) {
          if (total <= rule.totalSize) break;
          if (entry.record.pinned) continue;
          ledger.plan(entry, 'total_size', rule.totalSize, scope, rule.totalSizeSource, text);
          total -= entry.record.fingerprint.size;
        }
        if (total > rule.totalSize) {
          const detail = `${where} keeps ${formatBytes(total)} because of pins, limit ${formatBytes(rule.totalSize)} (${rule.totalSizeSource})`;
          reportUnsatisfiable(scope, 'total_size', rule.totalSize, rule.totalSizeSource, detail);
        }
      }
      if (pinnedBytes >= rule.totalSize && kept.length > 0) {
        const detail = `${where}: pinned archives hold ${formatBytes(pinnedBytes)}, filling the ${formatBytes(rule.totalSize)} limit, so no unpinned archive can be kept (${rule.totalSizeSource})`;
        reportUnsatisfiable(scope, 'total_size', rule.totalSize, rule.totalSizeSource, detail);
      }
    }
  }

  // Disk pressure takes orphans first, but only those past their grace period, like every other rule.
  const pastGrace = (owner: OwnerState): boolean => owner.state === 'orphan' && nowMs - owner.sinceMs >= graceMs;
  if (policy.diskPressure && input.disk) planDiskPressure(input.disk, policy.diskPressure, entries, containers, ledger, pastGrace);

  const { directoryIdentity } = snapshot;
  return {
    deletions,
    // In file-name order, whatever order the archives came in.
    futureDated: futureDated.sort(),
    unsatisfiable: [...unsatisfiable.values()],
    effectiveLimits: describeEffectiveLimits(containers, policy),
    ...(directoryIdentity ? { directoryIdentity: { dev: directoryIdentity.dev, ino: directoryIdentity.ino } } : {}),
  };
}
