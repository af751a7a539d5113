import { compareArchiveAge } from '../archive/age-order.js';
import type { ArchiveRecord, InventorySnapshot } from '../inventory/types.js';
import { formatDuration } from '../retention/duration.js';
import { DEFAULT_FUTURE_TOLERANCE_MS } from '../defaults.js';
import { createScopeResolver, describeScope } from '../retention/plan-scopes.js';
import type { Group } from '../retention/plan-state.js';
import type { DeletionReason, DiskStats, RetentionPlan, RetentionPolicy, UnsatisfiableLimit } from '../retention/types.js';
import { formatBytes, formatShortDuration } from './format.js';

/** One limit that applies to an archive, how close it is, and what would make it delete the archive. */
export interface LimitOutlook {
  readonly limit: 'count' | 'total_size' | 'size' | 'age' | 'orphan' | 'disk_pressure';
  /** `container shop-prod/cart-0/cart-api`, `namespace payments`, `node`. */
  readonly scope: string;
  /** The limit in its unit: `10`, `20 GiB`, `7d`, `retainOrphan: false`, `85% used`. */
  readonly value: string;
  /** Where that scope stands now: `8 archives`, `12 MiB`, `2d old`, `62.0% used`. */
  readonly now: string;
  /** What deletes the archive under this limit: `after 3 more archives`, `in 5d`, `never`. */
  readonly goes: string;
  readonly policySource: string;
  /** New archives (in the scope) before this limit takes the archive, when that is how it works. */
  readonly archivesLeft?: number;
  /** Milliseconds until this limit takes the archive: exact for age, estimated from the scope's checkpoint rate for count and total size. */
  readonly etaMs?: number;
}

export type OutlookAction = 'delete' | 'keep' | 'unknown';

/** What retention would do with one archive and why, from one plan; nothing is deleted. */
export interface RetentionOutlook {
  readonly action: OutlookAction;
  /** One sentence: why it goes, or why it stays. */
  readonly why: string;
  /** For `delete`: the planner's reason and its sentence. */
  readonly reason?: DeletionReason;
  readonly detail?: string;
  readonly pinned: boolean;
  readonly futureDated: boolean;
  readonly identified: boolean;
  /** Every limit that applies to it, for a kept archive governed by the policy. */
  readonly limits: readonly LimitOutlook[];
  /** The limit that would take it first, when that can be told. */
  readonly next?: LimitOutlook;
  /** Unsatisfiable limits of the scopes it counts in. */
  readonly unsatisfiable: readonly UnsatisfiableLimit[];
}

export interface OutlookInput {
  readonly snapshot: Pick<InventorySnapshot, 'archives'>;
  readonly plan: RetentionPlan;
  readonly policy: RetentionPolicy;
  readonly fileName: string;
  readonly nowMs: number;
  readonly futureToleranceMs?: number;
  readonly disk?: DiskStats | undefined;
  /** The pin entry's name, when any entry `<archive>.keep` exists beside it. */
  readonly pin?: string | undefined;
}

const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;

/** Average time between the archives of a scope, from the times in their names; undefined with fewer than two distinct times. */
function checkpointInterval(members: readonly ArchiveRecord[]): number | undefined {
  if (members.length < 2) return undefined;
  const times = members.map((m) => m.name.timestampMs);
  const span = Math.max(...times) - Math.min(...times);
  return span > 0 ? span / (members.length - 1) : undefined;
}

const about = (etaMs: number | undefined): string => (etaMs === undefined ? '' : ` (about ${formatShortDuration(etaMs)} at the recent rate)`);

/**
 * What retention would do with `fileName`, read from a plan of its whole directory: the deletion
 * that concerns it (reason and sentence), or why it stays: pinned, unidentified, future-dated, or
 * within every limit, with how far each limit is and which would take it first.
 */
export function retentionOutlook(input: OutlookInput): RetentionOutlook {
  const { snapshot, plan, policy, fileName, nowMs } = input;
  const record = snapshot.archives.find((a) => a.fileName === fileName);
  const pinned = input.pin !== undefined || record?.pinned === true;
  const tolerance = input.futureToleranceMs ?? DEFAULT_FUTURE_TOLERANCE_MS;
  const futureDated = record !== undefined && record.name.timestampMs > nowMs + tolerance;
  const identified = record?.identity !== undefined;
  const concerning = (u: UnsatisfiableLimit): boolean =>
    record?.identity !== undefined &&
    u.namespace === record.identity.namespace &&
    (u.pod === '' || u.pod === record.identity.pod) &&
    (u.container === '' || u.container === record.identity.container);
  const unsatisfiable = plan.unsatisfiable.filter(concerning);
  const base = { pinned, futureDated, identified, limits: [] as LimitOutlook[], unsatisfiable };

  if (record === undefined) {
    return { ...base, action: 'unknown', why: 'not among the settled archives of its directory (still being written, or not a regular file there): retention does not consider it yet' };
  }
  const deletion = plan.deletions.find((d) => d.fileName === fileName);
  if (deletion !== undefined) {
    return { ...base, action: 'delete', reason: deletion.reason, detail: deletion.detail, why: `${deletion.reason}: ${deletion.detail}` };
  }
  if (pinned) {
    return { ...base, action: 'keep', why: 'pinned: no rule deletes it; it still counts toward the limits of its scopes' };
  }
  if (record.identity === undefined) {
    return { ...base, action: 'keep', why: 'unidentified: never deleted by a policy limit, orphan cleanup or disk pressure' };
  }
  if (futureDated) {
    const ahead = formatShortDuration(record.name.timestampMs - nowMs);
    return {
      ...base,
      action: 'keep',
      why: `future-dated: the time in its name is ${ahead} ahead of the clock (tolerance ${formatShortDuration(tolerance)}); set aside, neither counted nor deleted until that time comes`,
    };
  }

  const limits = limitsOf(input, record);
  return { ...base, action: 'keep', why: limits.length === 0 ? 'no limit applies to it' : 'within every limit', limits, ...nextOf(limits) };
}

function limitsOf(input: OutlookInput, record: ArchiveRecord): LimitOutlook[] {
  const { snapshot, plan, policy, nowMs } = input;
  const identity = record.identity;
  if (identity === undefined) return [];
  const resolve = createScopeResolver(policy);
  const futureLimitMs = nowMs + (input.futureToleranceMs ?? DEFAULT_FUTURE_TOLERANCE_MS);
  const deleted = new Set(plan.deletions.map((d) => d.fileName));
  // What the scopes hold once the plan is carried out: the archives the limits count from now on.
  const members = new Map<Group, ArchiveRecord[]>();
  const containerRecords: ArchiveRecord[] = [];
  for (const r of snapshot.archives) {
    if (r.identity === undefined || deleted.has(r.fileName) || r.name.timestampMs > futureLimitMs) continue;
    const state = resolve(r.identity);
    for (const group of state.groups) {
      let list = members.get(group);
      if (list === undefined) members.set(group, (list = []));
      list.push(r);
    }
    if (r.identity.namespace === identity.namespace && r.identity.pod === identity.pod && r.identity.container === identity.container) containerRecords.push(r);
  }
  const state = resolve(identity);
  const { governor } = state;
  const limits: LimitOutlook[] = [];
  const size = record.fingerprint.size;

  if (governor.maxCheckpointSize > 0) {
    limits.push({
      limit: 'size',
      scope: governor.where,
      value: formatBytes(governor.maxCheckpointSize),
      now: formatBytes(size),
      goes: 'never: its size does not change',
      policySource: governor.sizeSource,
    });
  }
  if (governor.maxCheckpointAgeSeconds > 0) {
    const ageMs = Math.max(0, nowMs - record.name.timestampMs);
    // The planner deletes once the age in whole seconds exceeds the limit.
    const etaMs = Math.max(0, (governor.maxCheckpointAgeSeconds + 1) * 1000 - ageMs);
    limits.push({
      limit: 'age',
      scope: governor.where,
      value: formatDuration(governor.maxCheckpointAgeSeconds),
      now: `${formatShortDuration(ageMs)} old`,
      goes: `in ${formatShortDuration(etaMs)}`,
      policySource: governor.ageSource,
      etaMs,
    });
  }
  for (const group of state.groups) {
    const list = [...(members.get(group) ?? [])].sort(compareArchiveAge);
    const where = describeScope(group.scope);
    const interval = checkpointInterval(list);
    const { rule } = group;
    if (rule.count > 0) {
      const order = rule.unrestorableFirst ? [...list.filter((m) => m.restorable === false), ...list.filter((m) => m.restorable !== false)] : list;
      const index = order.findIndex((m) => m.fileName === record.fileName);
      const olderUnpinned = order.slice(0, Math.max(0, index)).filter((m) => !m.pinned).length;
      // Each new archive beyond the limit takes the oldest unpinned one: this one goes after those before it.
      const archivesLeft = Math.max(1, rule.count - list.length + olderUnpinned + 1);
      const etaMs = interval === undefined ? undefined : archivesLeft * interval;
      limits.push({
        limit: 'count',
        scope: where,
        value: String(rule.count),
        now: plural(list.length, 'archive'),
        goes: `after ${plural(archivesLeft, 'more archive')}${about(etaMs)}`,
        policySource: rule.countSource,
        archivesLeft,
        ...(etaMs !== undefined ? { etaMs } : {}),
      });
    }
    if (rule.totalSize > 0) {
      const total = list.reduce((sum, m) => sum + m.fingerprint.size, 0);
      const index = list.findIndex((m) => m.fileName === record.fileName);
      const olderUnpinnedBytes = list.slice(0, Math.max(0, index)).reduce((sum, m) => sum + (m.pinned ? 0 : m.fingerprint.size), 0);
      const room = Math.max(0, rule.totalSize - total + olderUnpinnedBytes);
      const average = list.length > 0 ? total / list.length : size;
      const archivesLeft = average > 0 ? Math.floor(room / average) + 1 : undefined;
      const etaMs = interval === undefined || archivesLeft === undefined ? undefined : archivesLeft * interval;
      limits.push({
        limit: 'total_size',
        scope: where,
        value: formatBytes(rule.totalSize),
        now: formatBytes(total),
        goes: `once new archives there add more than ${formatBytes(room)}${archivesLeft === undefined ? '' : ` (${archivesLeft} of the average ${formatBytes(average)})`}`,
        policySource: rule.totalSizeSource,
        ...(archivesLeft !== undefined ? { archivesLeft } : {}),
        ...(etaMs !== undefined ? { etaMs } : {}),
      });
    }
  }
  const grace = formatDuration(policy.orphanGracePeriodSeconds);
  limits.push({
    limit: 'orphan',
    scope: governor.where,
    value: `retainOrphan: ${governor.retainOrphan}`,
    now: '-',
    goes: governor.retainOrphan ? 'never: kept when its pod is gone' : `once its pod has been gone for ${grace}`,
    policySource: governor.orphanSource,
  });
  const pressure = policy.diskPressure;
  if (pressure !== undefined) {
    const newest = [...containerRecords].sort(compareArchiveAge).slice(-pressure.keepNewestPerContainer);
    const protectedByKeep = pressure.keepNewestPerContainer > 0 && newest.some((m) => m.fileName === record.fileName);
    const used = input.disk !== undefined && input.disk.sizeBytes > 0 ? ((input.disk.sizeBytes - input.disk.availBytes) / input.disk.sizeBytes) * 100 : undefined;
    limits.push({
      limit: 'disk_pressure',
      scope: 'node',
      value: `${pressure.highThresholdPercent}% used`,
      now: used === undefined ? '-' : `${used.toFixed(1)}% used`,
      goes: protectedByKeep
        ? `never while it is among the newest ${plural(pressure.keepNewestPerContainer, 'archive')} of its container`
        : (record.fingerprint.nlink ?? 1) > 1
          ? `never while it has other hard links (${record.fingerprint.nlink} links): deleting it would free no space`
          : `above ${pressure.highThresholdPercent}% used, oldest archives first, until below ${pressure.lowThresholdPercent}%`,
      policySource: pressure.source,
    });
  }
  return limits;
}

/**
 * The limit that would take the archive first: the soonest in time where a time can be told (age
 * exactly; count and total size from the scope's checkpoint rate), else the fewest new archives.
 */
function nextOf(limits: readonly LimitOutlook[]): { next?: LimitOutlook } {
  const timed = limits.filter((l) => l.etaMs !== undefined).sort((a, b) => (a.etaMs ?? 0) - (b.etaMs ?? 0));
  if (timed[0] !== undefined) return { next: timed[0] };
  const counted = limits.filter((l) => l.archivesLeft !== undefined).sort((a, b) => (a.archivesLeft ?? 0) - (b.archivesLeft ?? 0));
  return counted[0] !== undefined ? { next: counted[0] } : {};
}
