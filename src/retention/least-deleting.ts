import { formatDuration } from './duration.js';
import { formatQuantity } from './quantity.js';

/**
 * Which of two settings of one policy field deletes less, field by field. When two documents (or two
 * cluster objects) set the same field of the same scope, the merge applies the setting that deletes
 * less: a mistake in one source then keeps archives rather than deleting them, and no source can
 * tighten what another one keeps.
 *
 * - count, size and age limits: no limit (0, or unset in a namespace, pod or container policy, where
 *   unset means no limit) deletes least, then the larger value;
 * - `retainOrphan`: `true` (unset in a specific policy means `true` too);
 * - `deleteUnrestorableFirst`: `false`, oldest first as without it; `true` lets a count limit take a
 *   newer unrestorable archive that oldest-first would keep;
 * - `deleteReferencedPodCheckpoints`: `false`, a pod archive a PodCheckpoint object references is kept;
 * - `diskPressure`: the higher `highThresholdPercent` (cleanup starts later), the higher
 *   `lowThresholdPercent` (it stops sooner), the larger `keepNewestPerContainer`;
 * - `orphanGracePeriod`: the longer.
 */
export type FieldKind = 'limit' | 'retain' | 'oldestFirst' | 'keepReferenced' | 'higher';

export type SettingValue = number | boolean | string | null;

export interface Setting<T extends SettingValue = SettingValue> {
  readonly value: T;
  readonly source: string;
}

/** How much a value keeps: the larger, the fewer archives it deletes. */
function keeping(kind: FieldKind, value: SettingValue): number {
  switch (kind) {
    case 'limit':
      return value === null || value === 0 ? Number.POSITIVE_INFINITY : Number(value);
    case 'retain':
      return value === false ? 0 : 1;
    case 'oldestFirst':
    case 'keepReferenced':
      return value === true ? 0 : 1;
    case 'higher':
      return Number(value);
  }
}

/** The setting that deletes least; among equals, the first (in precedence order). */
export function leastDeleting<T extends SettingValue>(kind: FieldKind, settings: readonly Setting<T>[]): Setting<T> | undefined {
  let best: Setting<T> | undefined;
  for (const setting of settings) if (best === undefined || keeping(kind, setting.value) > keeping(kind, best.value)) best = setting;
  return best;
}

/** True when the settings do not all mean the same: null and 0 of a limit both mean no limit. */
export function disagree(kind: FieldKind, settings: readonly Setting[]): boolean {
  const first = settings[0];
  return first !== undefined && settings.some((s) => keeping(kind, s.value) !== keeping(kind, first.value));
}

export const RULE_TEXT: Readonly<Record<FieldKind, string>> = {
  limit: 'no limit deletes least, then the larger limit',
  retain: 'retainOrphan true keeps orphans',
  oldestFirst: 'deleteUnrestorableFirst false deletes oldest first, as without it',
  keepReferenced: 'deleteReferencedPodCheckpoints false keeps the pod archives PodCheckpoint objects reference',
  higher: 'the higher value deletes less',
};

export type ValueUnit = 'count' | 'bytes' | 'seconds' | 'percent' | 'flag' | 'text';

/** A value as the policy YAML would say it: `5`, `1Gi`, `7d`, `90%`, `true`; `unset (no limit)` for an unset field of a specific policy. */
export function formatSetting(kind: FieldKind, unit: ValueUnit, value: SettingValue): string {
  if (value === null) return 'unset (no limit)';
  const none = kind === 'limit' && value === 0 ? ' (no limit)' : '';
  if (typeof value === 'number') {
    if (unit === 'bytes') return `${formatQuantity(value)}${none}`;
    if (unit === 'seconds') return `${formatDuration(value)}${none}`;
    if (unit === 'percent') return `${value}%`;
  }
  return `${String(value)}${none}`;
}
