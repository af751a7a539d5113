import type { ArchiveIdentity } from '../../../src/archive/types.js';
import type { ArchiveRecord } from '../../../src/inventory/types.js';
import type { DiskStats, OwnerLookup, PlannedDeletion, PolicyLimits, RetentionPlan, RetentionPolicy, UnsatisfiableLimit } from '../../../src/retention/types.js';

/**
 * An oracle for planRetention written from the policy alone. It enumerates every limit the policy
 * sets: the global policy's per-archive limits and its count and total-size limits per container, pod
 * and namespace, and each namespace, pod and container policy's limits for exactly its scope, field by
 * field. Which archives a limit counts, their age order and what each limit requires are worked out
 * here, without the planner's scope resolver, its effective limits or its age order; a limit the
 * planner forgets, miscounts or attributes wrongly is a violation.
 */

type Level = 'container' | 'pod' | 'namespace';
const LEVEL_RANK: Readonly<Record<Level, number>> = { container: 0, pod: 1, namespace: 2 };

interface Labels {
  readonly namespace: string;
  readonly pod: string;
  readonly container: string;
}

/** One count or total-size limit over the archives it counts. */
interface GroupLimit {
  readonly kind: 'count' | 'total_size';
  readonly level: Level;
  readonly labels: Labels;
  readonly value: number;
  readonly unrestorableFirst: boolean;
  /** In the order the limit deletes them. */
  readonly members: readonly ArchiveRecord[];
  readonly what: string;
}

/** The per-archive limits that govern one archive. */
interface ArchiveLimits {
  readonly labels: Labels;
  readonly size: number;
  readonly ageSeconds: number;
  readonly retainOrphan: boolean;
}

export interface OracleInput {
  readonly archives: readonly ArchiveRecord[];
  readonly policy: RetentionPolicy;
  readonly owners: OwnerLookup;
  readonly disk: DiskStats | undefined;
  readonly nowMs: number;
  readonly futureToleranceMs: number;
}

const labelsOf = (level: Level | 'archive', id: ArchiveIdentity): Labels => ({
  namespace: id.namespace,
  pod: level === 'namespace' ? '' : id.pod,
  container: level === 'namespace' || level === 'pod' ? '' : id.container,
});
const sameLabels = (a: Labels, b: Labels): boolean => a.namespace === b.namespace && a.pod === b.pod && a.container === b.container;
const keyOf = (labels: Labels): string => `${labels.namespace}/${labels.pod}/${labels.container}`;

/** Oldest first: the name's time, then mtime, then file name (the documented order, written here again on purpose). */
function olderFirst(a: ArchiveRecord, b: ArchiveRecord): number {
  if (a.name.timestampMs !== b.name.timestampMs) return a.name.timestampMs - b.name.timestampMs;
  if (a.fingerprint.mtimeMs !== b.fingerprint.mtimeMs) return a.fingerprint.mtimeMs - b.fingerprint.mtimeMs;
  return a.fileName < b.fileName ? -1 : a.fileName > b.fileName ? 1 : 0;
}

/** The specific policy of exactly this container, else of its pod, else of its namespace; undefined: the global policy. */
function specificPolicyOf(policy: RetentionPolicy, id: ArchiveIdentity): { level: Level; limits: PolicyLimits } | undefined {
  const container = policy.containerPolicies.find((p) => p.namespace === id.namespace && p.pod === id.pod && p.container === id.container);
  if (container !== undefined) return { level: 'container', limits: container };
  const pod = policy.podPolicies.find((p) => p.namespace === id.namespace && p.pod === id.pod);
  if (pod !== undefined) return { level: 'pod', limits: pod };
  const namespace = policy.namespacePolicies.find((p) => p.namespace === id.namespace);
  if (namespace !== undefined) return { level: 'namespace', limits: namespace };
  return undefined;
}

function archiveLimitsOf(policy: RetentionPolicy, id: ArchiveIdentity): ArchiveLimits {
  const specific = specificPolicyOf(policy, id);
  if (specific === undefined) {
    const g = policy.global;
    return { labels: labelsOf('container', id), size: g.maxCheckpointSize, ageSeconds: g.maxCheckpointAgeSeconds, retainOrphan: g.retainOrphan };
  }
  const p = specific.limits;
  return { labels: labelsOf(specific.level, id), size: p.maxCheckpointSize ?? 0, ageSeconds: p.maxCheckpointAgeSeconds ?? 0, retainOrphan: p.retainOrphan ?? true };
}

/** Every count and total-size limit the policy sets, with the archives each counts (limits no archive falls under included). */
function groupLimitsOf(policy: RetentionPolicy, counted: readonly ArchiveRecord[]): GroupLimit[] {
  const limits: GroupLimit[] = [];
  const add = (kind: GroupLimit['kind'], level: Level, labels: Labels, value: number, unrestorableFirst: boolean, members: ArchiveRecord[], what: string): void => {
    if (value <= 0) return;
    const byAge = [...members].sort(olderFirst);
    const order = kind === 'count' && unrestorableFirst ? [...byAge.filter((a) => a.restorable === false), ...byAge.filter((a) => a.restorable !== false)] : byAge;
    limits.push({ kind, level, labels, value, unrestorableFirst, members: order, what });
  };
  const specific = new Map<string, { level: Level; limits: PolicyLimits; labels: Labels; members: ArchiveRecord[] }>();
  const global = new Map<string, { level: Level; labels: Labels; members: ArchiveRecord[] }>();
  const scoped = [
    ...policy.namespacePolicies.map((p) => ({ level: 'namespace' as const, limits: p as PolicyLimits, labels: { namespace: p.namespace, pod: '', container: '' } })),
    ...policy.podPolicies.map((p) => ({ level: 'pod' as const, limits: p as PolicyLimits, labels: { namespace: p.namespace, pod: p.pod, container: '' } })),
    ...policy.containerPolicies.map((p) => ({ level: 'container' as const, limits: p as PolicyLimits, labels: { namespace: p.namespace, pod: p.pod, container: p.container } })),
  ];
  for (const s of scoped) specific.set(`${s.level} ${keyOf(s.labels)}`, { ...s, members: [] });
  for (const archive of counted) {
    const id = archive.identity!;
    const governing = specificPolicyOf(policy, id);
    if (governing !== undefined) {
      specific.get(`${governing.level} ${keyOf(labelsOf(governing.level, id))}`)!.members.push(archive);
      continue;
    }
    for (const level of ['container', 'pod', 'namespace'] as const) {
      const labels = labelsOf(level, id);
      const key = `${level} ${keyOf(labels)}`;
      let group = global.get(key);
      if (group === undefined) global.set(key, (group = { level, labels, members: [] }));
      group.members.push(archive);
    }
  }
  for (const s of specific.values()) {
    const first = s.limits.deleteUnrestorableFirst === true;
    add('count', s.level, s.labels, s.limits.maxCheckpoints ?? 0, first, s.members, `${s.level} policy ${keyOf(s.labels)} maxCheckpoints`);
    add('total_size', s.level, s.labels, s.limits.maxTotalSize ?? 0, first, s.members, `${s.level} policy ${keyOf(s.labels)} maxTotalSize`);
  }
  const g = policy.global;
  const perLevel = {
    container: { count: g.maxCheckpointsPerContainer, total: g.maxTotalSizePerContainer, names: ['maxCheckpointsPerContainer', 'maxTotalSizePerContainer'] },
    pod: { count: g.maxCheckpointsPerPod, total: g.maxTotalSizePerPod, names: ['maxCheckpointsPerPod', 'maxTotalSizePerPod'] },
    namespace: { count: g.maxCheckpointsPerNamespace, total: g.maxTotalSizePerNamespace, names: ['maxCheckpointsPerNamespace', 'maxTotalSizePerNamespace'] },
  } as const;
  for (const group of global.values()) {
    const set = perLevel[group.level];
    add('count', group.level, group.labels, set.count, g.deleteUnrestorableFirst, group.members, `global ${set.names[0]} of ${keyOf(group.labels)}`);
    add('total_size', group.level, group.labels, set.total, g.deleteUnrestorableFirst, group.members, `global ${set.names[1]} of ${keyOf(group.labels)}`);
  }
  return limits;
}

const measureOf = (kind: GroupLimit['kind'], archives: Iterable<ArchiveRecord>): number => {
  let sum = 0;
  for (const a of archives) sum += kind === 'count' ? 1 : a.fingerprint.size;
  return sum;
};

/** Every way the plan breaks the policy; empty when it keeps to it. */
export function violationsOf(input: OracleInput, plan: RetentionPlan): string[] {
  const { archives, policy, nowMs } = input;
  const problems: string[] = [];
  const fail = (text: string): void => void problems.push(text);
  const byName = new Map(archives.map((a) => [a.fileName, a]));
  const futureLimitMs = nowMs + input.futureToleranceMs;
  const counted = archives.filter((a) => a.identity !== undefined && a.name.timestampMs <= futureLimitMs);
  const deletedBy = new Map<string, PlannedDeletion>();

  // What may be deleted at all.
  for (const d of plan.deletions) {
    const archive = byName.get(d.fileName);
    if (deletedBy.has(d.fileName)) fail(`${d.fileName} planned twice`);
    deletedBy.set(d.fileName, d);
    if (archive === undefined) fail(`${d.fileName} planned but not in the input`);
    else if (archive.pinned) fail(`pinned ${d.fileName} planned (${d.reason})`);
    else if (archive.identity === undefined) fail(`unidentified ${d.fileName} planned`);
    else if (archive.name.timestampMs > futureLimitMs) fail(`future-dated ${d.fileName} planned`);
    if (d.detail.length === 0) fail(`${d.fileName}: no detail`);
  }
  const futureDated = archives.filter((a) => a.identity !== undefined && a.name.timestampMs > futureLimitMs).map((a) => a.fileName).sort();
  if (JSON.stringify(plan.futureDated ?? []) !== JSON.stringify(futureDated)) fail(`future-dated ${JSON.stringify(plan.futureDated)}, expected ${JSON.stringify(futureDated)}`);
  const reported = (labels: Labels, limit: string): UnsatisfiableLimit | undefined => plan.unsatisfiable.find((u) => sameLabels(u, labels) && u.limit === limit);

  // Per-archive limits: size, else age, else orphan; a pinned archive over one is reported instead.
  const graceMs = policy.orphanGracePeriodSeconds * 1000;
  const perArchive = new Map<string, 'size' | 'age' | 'orphan'>();
  for (const archive of counted) {
    const limits = archiveLimitsOf(policy, archive.identity!);
    const ageSeconds = Math.floor((nowMs - archive.name.timestampMs) / 1000);
    const overSize = limits.size > 0 && archive.fingerprint.size > limits.size;
    const overAge = limits.ageSeconds > 0 && ageSeconds > limits.ageSeconds;
    const owner = input.owners(archive.identity!);
    const orphan = !limits.retainOrphan && owner.state === 'orphan' && nowMs - owner.sinceMs >= graceMs;
    const expected = overSize ? 'size' : overAge ? 'age' : orphan ? 'orphan' : undefined;
    const d = deletedBy.get(archive.fileName);
    if (archive.pinned) {
      if (expected === 'size' || expected === 'age') {
        const u = reported(limits.labels, expected);
        if (u === undefined) fail(`pinned ${archive.fileName} over its ${expected} limit not reported unsatisfiable at ${keyOf(limits.labels)}`);
      }
      continue;
    }
    if (expected !== undefined) {
      perArchive.set(archive.fileName, expected);
      if (d?.reason !== expected) fail(`${archive.fileName} is over its ${expected} limit (${keyOf(limits.labels)}) but planned as ${d?.reason ?? 'kept'}`);
      else if (expected !== 'orphan' && (d.limitValue !== (expected === 'size' ? limits.size : limits.ageSeconds) || !sameLabels({ namespace: d.scope.namespace ?? '', pod: d.scope.pod ?? '', container: d.scope.container ?? '' }, limits.labels))) {
        fail(`${archive.fileName} planned by ${expected} ${d.limitValue} at ${JSON.stringify(d.scope)}, expected ${expected === 'size' ? limits.size : limits.ageSeconds} at ${keyOf(limits.labels)}`);
      }
    } else if (d !== undefined && (d.reason === 'size' || d.reason === 'age' || d.reason === 'orphan')) {
      fail(`${archive.fileName} planned by ${d.reason} without being over that limit`);
    }
  }

  // Group limits, each from the policy with the archives it counts.
  const limits = groupLimitsOf(policy, counted);
  const limitOf = (d: PlannedDeletion): GroupLimit | undefined =>
    limits.find((l) => l.kind === d.reason && l.level === d.scope.level && sameLabels(l.labels, { namespace: d.scope.namespace ?? '', pod: d.scope.pod ?? '', container: d.scope.container ?? '' }));
  const attributed = new Map<GroupLimit, ArchiveRecord[]>();
  for (const d of plan.deletions) {
    if (d.reason !== 'count' && d.reason !== 'total_size') continue;
    const limit = limitOf(d);
    const archive = byName.get(d.fileName);
    if (limit === undefined || archive === undefined) {
      fail(`${d.fileName} planned by a ${d.reason} limit the policy does not set at ${JSON.stringify(d.scope)}`);
      continue;
    }
    if (!limit.members.includes(archive)) fail(`${d.fileName} planned by ${limit.what}, which does not count it`);
    if (d.limitValue !== limit.value) fail(`${d.fileName} planned by ${limit.what} = ${d.limitValue}, the policy says ${limit.value}`);
    attributed.set(limit, [...(attributed.get(limit) ?? []), archive]);
  }
  /** Planned before this limit's turn: by a per-archive limit, a narrower group, or (for total size) the count limit of the same group. */
  const goneBefore = (limit: GroupLimit, archive: ArchiveRecord): boolean => {
    if (perArchive.has(archive.fileName)) return true;
    for (const [other, gone] of attributed) {
      if (other === limit || !gone.includes(archive)) continue;
      if (LEVEL_RANK[other.level] < LEVEL_RANK[limit.level] || (other.level === limit.level && other.kind === 'count' && limit.kind === 'total_size')) return true;
    }
    return false;
  };
  for (const limit of limits) {
    const kept = limit.members.filter((a) => !deletedBy.has(a.fileName));
    const pinned = limit.members.filter((a) => a.pinned);
    const keptMeasure = measureOf(limit.kind, kept);
    const pinnedMeasure = measureOf(limit.kind, pinned);
    const u = reported(limit.labels, limit.kind);
    if (keptMeasure > limit.value) {
      if (kept.some((a) => !a.pinned)) fail(`${limit.what} = ${limit.value}: keeps ${keptMeasure}, unpinned archives among them`);
      if (u === undefined) fail(`${limit.what} = ${limit.value}: keeps ${keptMeasure} because of pins, not reported unsatisfiable`);
    }
    const turn = limit.members.filter((a) => !goneBefore(limit, a));
    if (pinnedMeasure >= limit.value && turn.length > 0 && u === undefined) fail(`${limit.what} = ${limit.value}: pins hold ${pinnedMeasure}, not reported unsatisfiable`);
    // Oldest first (unrestorable first where asked): nothing the limit deleted comes after an unpinned archive it kept.
    const own = attributed.get(limit) ?? [];
    const lastOwn = Math.max(-1, ...own.map((a) => limit.members.indexOf(a)));
    const skipped = lastOwn < 0 ? undefined : limit.members.slice(0, lastOwn).find((a) => !a.pinned && !deletedBy.has(a.fileName));
    if (skipped !== undefined) fail(`${limit.what}: deleted a later archive and kept ${skipped.fileName}`);
    // No more than needed: without its last deletion the limit would not be met.
    if (own.length > 0) {
      const left = measureOf(limit.kind, turn.filter((a) => !own.includes(a)));
      const last = limit.members[lastOwn]!;
      if (left + measureOf(limit.kind, [last]) <= limit.value) fail(`${limit.what} = ${limit.value}: deleted ${last.fileName} though ${left + measureOf(limit.kind, [last])} fits`);
    }
  }
  // Every unsatisfiable count or total-size limit is one the policy sets, and its pins reach it.
  for (const u of plan.unsatisfiable) {
    if (u.limit !== 'count' && u.limit !== 'total_size') continue;
    const limit = limits.find((l) => l.kind === u.limit && sameLabels(l.labels, u) && l.members.length > 0);
    if (limit === undefined) fail(`unsatisfiable ${u.limit} at ${keyOf(u)}: the policy sets no such limit there`);
    else if (u.value !== limit.value || measureOf(limit.kind, limit.members.filter((a) => a.pinned)) < limit.value) fail(`unsatisfiable ${limit.what} = ${u.value}, but its pins do not reach ${limit.value}`);
  }

  // Disk pressure: only above the high mark, and never one of the newest survivors of its container.
  const pressured = plan.deletions.filter((d) => d.reason === 'disk_pressure');
  const pressure = policy.diskPressure;
  if (pressured.length > 0) {
    const disk = input.disk;
    const used = disk === undefined ? 0 : disk.sizeBytes - disk.freeBytes;
    const percent = disk === undefined ? 0 : (used / (used + disk.availBytes)) * 100;
    if (pressure === undefined || disk === undefined || percent <= pressure.highThresholdPercent) fail(`disk pressure planned at ${percent.toFixed(1)}% used`);
    else {
      for (const d of pressured) {
        const id = d.identity!;
        const survivors = counted
          .filter((a) => sameLabels(a.identity!, id) && !(deletedBy.has(a.fileName) && deletedBy.get(a.fileName)!.reason !== 'disk_pressure'))
          .sort(olderFirst);
        const newest = survivors.slice(Math.max(0, survivors.length - pressure.keepNewestPerContainer));
        if (newest.some((a) => a.fileName === d.fileName)) fail(`disk pressure took ${d.fileName}, one of the newest ${pressure.keepNewestPerContainer} of its container`);
      }
    }
  }
  return problems;
}
