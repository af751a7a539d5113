/** What one resolve learned of one archive's owner. */
export type OwnerVerdict = 'alive' | 'orphan' | 'unknown';

/**
 * Identity key → time since which it has been continuously seen orphaned, on a monotonic clock: a wall clock
 * step (NTP, VM resume) must not count as time orphaned.
 */
export type OrphanClock = ReadonlyMap<string, number>;

export const EMPTY_ORPHAN_CLOCK: OrphanClock = new Map();

/**
 * Advances the orphan clock by one observation round. An owner keeps its start time only while every round
 * sees it orphaned; alive, unknown or simply not observed drops it, so after any doubt (an outage, a
 * failed lookup) the orphan grace period starts again from the next round that sees it orphaned.
 */
export function advanceOrphanClock(
  clock: OrphanClock,
  observations: Iterable<readonly [key: string, verdict: OwnerVerdict]>,
  nowMs: number,
): OrphanClock {
  const next = new Map<string, number>();
  for (const [key, verdict] of observations) {
    if (verdict !== 'orphan') continue;
    next.set(key, clock.get(key) ?? nowMs);
  }
  return next;
}
