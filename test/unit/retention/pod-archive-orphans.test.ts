import { describe, expect, it } from '@jest/globals';
import type { ArchiveRecord } from '../../../src/inventory/types.js';
import {
  podArchiveVerdict,
  podOrphansMayGo,
  resolvePodArchiveOwners,
  type PodArchiveOrphanInput,
  type PodCheckpointObjectsKind,
  type PodOrphanClock,
} from '../../../src/retention/pod-archive-orphans.js';
import { planPodArchives } from '../../../src/retention/pod-scope-policy.js';
import type { OwnerLookup, OwnerState, RetentionPolicy } from '../../../src/retention/types.js';
import { MINUTE, T0, archive, policyOf, series, snapshotOf } from './builders.js';

/**
 * The orphan rule of pod-level archives (KEP-5823): an archive is an orphan only with the PodCheckpoint
 * objects known, no live object referencing it, and its pod gone as the pod view reports it; it goes
 * after being one continuously for orphanGracePeriod, where the policy governing its pod says
 * retainOrphan: false.
 */

const [first, second] = series(2, { namespace: 'shop', pod: 'web-0', container: '', fromMinute: 0 }) as [ArchiveRecord, ArchiveRecord];
const podStates: Record<string, OwnerState> = {
  gone: { state: 'orphan', sinceMs: 0 },
  present: { state: 'alive' },
  unknown: { state: 'unknown', reason: 'GET pod shop/web-0: 503' },
};
/** The pod view's answer for every pod; asked only about the pod itself (container ''). */
const podsAre =
  (state: OwnerState): OwnerLookup =>
  (identity) => (identity.container === '' ? state : { state: 'unknown', reason: `asked about a container ${identity.container}` });

const input = (objects: PodCheckpointObjectsKind, pod: keyof typeof podStates, overrides: Partial<PodArchiveOrphanInput> = {}): PodArchiveOrphanInput => ({
  objects,
  referenced: new Set(),
  conflicting: new Set(),
  pods: podsAre(podStates[pod]!),
  ...overrides,
});

describe('podArchiveVerdict: an orphan only with the objects known, unreferenced, and the pod gone', () => {
  const cases: Array<[PodCheckpointObjectsKind, 'referenced' | 'unreferenced', keyof typeof podStates, OwnerState['state']]> = [];
  for (const objects of ['known', 'unknown', 'absent'] as const)
    for (const reference of ['referenced', 'unreferenced'] as const)
      for (const pod of ['gone', 'present', 'unknown'] as const) {
        let want: OwnerState['state'];
        if (objects !== 'known') want = 'unknown';
        else if (reference === 'referenced') want = 'alive';
        else want = pod === 'gone' ? 'orphan' : pod === 'present' ? 'alive' : 'unknown';
        cases.push([objects, reference, pod, want]);
      }

  it.each(cases)('objects %s, %s, pod %s → %s', (objects, reference, pod, want) => {
    const referenced = reference === 'referenced' ? new Set([first.fileName]) : new Set<string>();
    expect(podArchiveVerdict(first, input(objects, pod, { referenced })).state).toBe(want);
  });

  it('an archive in a name/object disagreement is never an orphan, nor one whose pod no view can answer for', () => {
    expect(podArchiveVerdict(first, input('known', 'gone', { conflicting: new Set([first.fileName]) })).state).toBe('alive');
    expect(podArchiveVerdict(first, input('known', 'gone', { pods: undefined }))).toEqual({ state: 'unknown', reason: 'no pod view (no node name)' });
    expect(podArchiveVerdict(archive({ namespace: 'shop', pod: 'web-0', container: '', minute: 5, identified: false }), input('known', 'gone')).state).toBe('unknown');
  });
});

describe('the orphan rule in the pod plan, with the grace period counted by this process', () => {
  const policy = (spec: Record<string, unknown>): RetentionPolicy => policyOf(spec);
  const tenMinutes = policy({ globalPolicy: { retainOrphan: false }, orphanGracePeriod: '10m' });
  const NOW = T0 + 24 * 60 * MINUTE;

  /** One retention round: the verdicts advance the clock, then the pod planner plans on them. */
  function round(clock: PodOrphanClock, at: { wallMs: number; monotonicMs: number }, orphanInput: PodArchiveOrphanInput, retention: RetentionPolicy, archives: readonly ArchiveRecord[] = [first, second]) {
    const owners = resolvePodArchiveOwners(archives, orphanInput, clock, { nowMs: at.wallMs, monotonicMs: at.monotonicMs });
    const plan = planPodArchives({ snapshot: snapshotOf(archives), policy: retention, referenced: orphanInput.referenced, orphans: owners.ownerOf, nowMs: at.wallMs });
    return { clock: owners.clock, deleted: plan.deletions.map((d) => [d.fileName, d.reason]), plan };
  }

  it('an unreferenced archive of a gone pod goes once it has been an orphan for the grace period, not before', () => {
    const referenced = new Set([second.fileName]);
    const gone = input('known', 'gone', { referenced });
    let r = round(new Map(), { wallMs: NOW, monotonicMs: 1_000 }, gone, tenMinutes);
    expect(r.deleted).toEqual([]);
    r = round(r.clock, { wallMs: NOW + 10 * MINUTE - 1_000, monotonicMs: 1_000 + 10 * MINUTE - 1_000 }, gone, tenMinutes);
    expect(r.deleted).toEqual([]);
    r = round(r.clock, { wallMs: NOW + 10 * MINUTE, monotonicMs: 1_000 + 10 * MINUTE }, gone, tenMinutes);
    expect(r.deleted).toEqual([[first.fileName, 'orphan']]);
    expect(r.plan.deletions[0]?.detail).toBe(`pod shop/web-0 has been gone for 10m (grace 10m) and retainOrphan is false (CheckpointRestoreOperator ops/default globalPolicy); no PodCheckpoint object references ${first.fileName}`);
  });

  it('any round of doubt, or the archive referenced again, starts the grace period again', () => {
    const at = (minute: number) => ({ wallMs: NOW + minute * MINUTE, monotonicMs: minute * MINUTE });
    const referencedAWhile = input('known', 'gone', { referenced: new Set([first.fileName]) });
    for (const doubt of [input('known', 'unknown'), input('unknown', 'gone'), input('known', 'present'), referencedAWhile]) {
      let r = round(new Map(), at(0), input('known', 'gone'), tenMinutes);
      r = round(r.clock, at(5), doubt, tenMinutes);
      expect(r.deleted).toEqual([]);
      r = round(r.clock, at(10), input('known', 'gone'), tenMinutes);
      // Only the archive the doubt was about starts again: the other one's clock ran on.
      expect(r.deleted).toEqual(doubt === referencedAWhile ? [[second.fileName, 'orphan']] : []);
      r = round(r.clock, at(20), input('known', 'gone'), tenMinutes);
      expect(r.deleted.map(([name]) => name)).toContain(first.fileName);
    }
  });

  it('a wall-clock step forward never counts as time orphaned', () => {
    let r = round(new Map(), { wallMs: NOW, monotonicMs: 0 }, input('known', 'gone'), tenMinutes);
    r = round(r.clock, { wallMs: NOW + 60 * MINUTE, monotonicMs: MINUTE }, input('known', 'gone'), tenMinutes);
    expect(r.deleted).toEqual([]);
  });

  it('with a 0s grace the first round that sees it takes it; retainOrphan true (the default) never does', () => {
    const zero = policy({ globalPolicy: { retainOrphan: false }, orphanGracePeriod: '0s' });
    expect(round(new Map(), { wallMs: NOW, monotonicMs: 0 }, input('known', 'gone'), zero).deleted).toHaveLength(2);
    expect(round(new Map(), { wallMs: NOW, monotonicMs: 0 }, input('known', 'gone'), policy({ orphanGracePeriod: '0s' })).deleted).toEqual([]);
  });

  it('neither objects absent (the group not served, no API server) nor unknown make an orphan, whatever the pod', () => {
    const zero = policy({ globalPolicy: { retainOrphan: false }, orphanGracePeriod: '0s' });
    for (const objects of ['absent', 'unknown'] as const) expect(round(new Map(), { wallMs: NOW, monotonicMs: 0 }, input(objects, 'gone'), zero).deleted).toEqual([]);
  });

  it('a referenced archive is never an orphan, also with deleteReferencedPodCheckpoints; a pin is always kept', () => {
    const zero = policy({ globalPolicy: { retainOrphan: false, deleteReferencedPodCheckpoints: true }, orphanGracePeriod: '0s' });
    const pinned = archive({ namespace: 'shop', pod: 'web-0', container: '', minute: 7, pinned: true });
    const r = round(new Map(), { wallMs: NOW, monotonicMs: 0 }, input('known', 'gone', { referenced: new Set([first.fileName]) }), zero, [first, second, pinned]);
    expect(r.deleted).toEqual([[second.fileName, 'orphan']]);
  });

  it('the policy governing the pod decides: a pod policy with retainOrphan false takes only that pod\'s orphans', () => {
    const other = series(1, { namespace: 'shop', pod: 'web-1', container: '', fromMinute: 3 });
    const spec = { podPolicies: [{ namespace: 'shop', pod: 'web-1', retainOrphan: false }], orphanGracePeriod: '0s' };
    const r = round(new Map(), { wallMs: NOW, monotonicMs: 0 }, input('known', 'gone'), policy(spec), [first, ...other]);
    expect(r.deleted).toEqual([[other[0]!.fileName, 'orphan']]);
    expect(podOrphansMayGo(policy(spec))).toBe(true);
    expect(podOrphansMayGo(policy({ namespacePolicies: [{ namespace: 'shop', retainOrphan: true }] }))).toBe(false);
    expect(podOrphansMayGo(tenMinutes)).toBe(true);
  });
});
