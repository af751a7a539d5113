import type { ArchiveRecord } from '../inventory/types.js';
import type { Entry, Group, PlanLedger, Rule } from './plan-state.js';
import { describeScope } from './plan-scopes.js';
import { formatBytes } from './quantity.js';
import type { LimitName, ScopeRef } from './types.js';

/** Reports a limit that cannot be met; the first report of a scope and limit wins. */
export type ReportUnsatisfiable = (scope: ScopeRef, limit: LimitName, value: number, policySource: string, detail: string) => void;

/** What a group limit reads of an archive, and how its messages are worded. */
export interface GroupLimitKind {
  readonly name: 'count' | 'total_size';
  /** The limit a rule sets (0 = none) and the policy entry behind it. */
  valueOf(rule: Rule): number;
  sourceOf(rule: Rule): string;
  /** What one archive counts toward the limit: 1, or its size. */
  measure(record: ArchiveRecord): number;
  /** Archives known to be unrestorable go before older restorable ones, when the rule says so. */
  unrestorableFirst(rule: Rule): boolean;
  over(where: string, archives: number, total: number, limit: number, source: string, forcedByPins: string): string;
  forcedByPins(pinned: number, limit: number): string;
  keptBecauseOfPins(where: string, left: number, limit: number, source: string): string;
  filledByPins(where: string, pinned: number, limit: number, source: string): string;
}

const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;

export const COUNT_LIMIT: GroupLimitKind = {
  name: 'count',
  valueOf: (rule) => rule.count,
  sourceOf: (rule) => rule.countSource,
  measure: () => 1,
  unrestorableFirst: (rule) => rule.unrestorableFirst === true,
  over: (where, archives, _total, limit, source, forced) => `${where} has ${plural(archives, 'archive')}, limit ${limit} (${source})${forced}`,
  forcedByPins: (pinned, limit) => `; forced by pins: ${plural(pinned, 'pinned archive')} fill the limit of ${limit}`,
  keptBecauseOfPins: (where, left, limit, source) => `${where} keeps ${plural(left, 'archive')} because of pins, limit ${limit} (${source})`,
  filledByPins: (where, pinned, limit, source) => `${where}: ${plural(pinned, 'pinned archive')} fill the limit of ${limit}, so no unpinned archive can be kept (${source})`,
};

export const TOTAL_SIZE_LIMIT: GroupLimitKind = {
  name: 'total_size',
  valueOf: (rule) => rule.totalSize,
  sourceOf: (rule) => rule.totalSizeSource,
  measure: (record) => record.fingerprint.size,
  // deleteUnrestorableFirst is a count-limit setting.
  unrestorableFirst: () => false,
  over: (where, archives, total, limit, source, forced) => `${where} holds ${formatBytes(total)} in ${plural(archives, 'archive')}, limit ${formatBytes(limit)} (${source})${forced}`,
  forcedByPins: (pinned, limit) => `; forced by pins: pinned archives hold ${formatBytes(pinned)} of the ${formatBytes(limit)} limit`,
  keptBecauseOfPins: (where, left, limit, source) => `${where} keeps ${formatBytes(left)} because of pins, limit ${formatBytes(limit)} (${source})`,
  filledByPins: (where, pinned, limit, source) => `${where}: pinned archives hold ${formatBytes(pinned)}, filling the ${formatBytes(limit)} limit, so no unpinned archive can be kept (${source})`,
};

/**
 * One count or total-size limit over one group of archives (oldest first). What earlier passes and
 * narrower groups planned is gone already and not counted. Over the limit, unpinned archives go oldest
 * first (unrestorable ones first, where the rule says so) until the rest fits, so the newest are kept.
 * Pins count toward the limit but are never planned: when they alone reach it, every unpinned archive
 * goes, the newest included, and the scope is reported unsatisfiable so the operator hears of it.
 */
export function enforceGroupLimit(group: Group, kind: GroupLimitKind, ledger: PlanLedger, reportUnsatisfiable: ReportUnsatisfiable): void {
  const { rule, scope } = group;
  const limit = kind.valueOf(rule);
  if (limit <= 0) return;
  const source = kind.sourceOf(rule);
  const where = describeScope(scope);
  const kept = group.members.filter((m) => !m.planned);
  let total = 0;
  let pinned = 0;
  for (const entry of kept) {
    const measure = kind.measure(entry.record);
    total += measure;
    if (entry.record.pinned) pinned += measure;
  }
  if (total > limit) {
    const text = kind.over(where, kept.length, total, limit, source, pinned >= limit ? kind.forcedByPins(pinned, limit) : '');
    const unrestorableFirst = kind.unrestorableFirst(rule);
    for (const entry of unrestorableFirst ? unrestorableBeforeRestorable(kept) : kept) {
      if (total <= limit) break;
      if (entry.record.pinned) continue;
      const why = unrestorableFirst && entry.record.restorable === false ? `${text}; unrestorable first (missing ${(entry.record.missingEntries ?? []).join(', ')})` : text;
      ledger.plan(entry, kind.name, limit, scope, source, why);
      total -= kind.measure(entry.record);
    }
    if (total > limit) reportUnsatisfiable(scope, kind.name, limit, source, kind.keptBecauseOfPins(where, total, limit, source));
  }
  if (pinned >= limit && kept.length > 0) reportUnsatisfiable(scope, kind.name, limit, source, kind.filledByPins(where, pinned, limit, source));
}

/** Archives known to lack an entry a restore needs, oldest first, then the rest; unknown restorability counts as restorable. */
function unrestorableBeforeRestorable(entries: readonly Entry[]): Entry[] {
  return [...entries.filter((m) => m.record.restorable === false), ...entries.filter((m) => m.record.restorable !== false)];
}
