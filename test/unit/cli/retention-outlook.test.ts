import { describe, expect, it } from '@jest/globals';
import type { ArchiveIdentity } from '../../../src/archive/types.js';
import { retentionOutlook } from '../../../src/cli/retention-outlook.js';
import type { ArchiveRecord } from '../../../src/inventory/types.js';
import { mergePolicies } from '../../../src/retention/merge-policies.js';
import { planRetention } from '../../../src/retention/plan.js';
import { parsePolicyYaml } from '../../../src/retention/policy-document.js';
import type { OwnerLookup, RetentionPolicy } from '../../../src/retention/types.js';
import { archiveRecord, inventorySnapshot } from '../../support/snapshots.js';

const cart: ArchiveIdentity = { namespace: 'shop-prod', pod: 'cart-0', container: 'cart-api' };
const NOW = Date.parse('2026-03-10T12:00:00Z');
const HOUR = 3_600_000;
const unknownOwners: OwnerLookup = () => ({ state: 'unknown', reason: 'test' });

function policyOf(spec: string): RetentionPolicy {
  const parsed = parsePolicyYaml(`apiVersion: criu.org/v1\nkind: CheckpointRestoreOperator\nmetadata:\n  name: p\nspec:\n${spec}`, 'file p.yaml');
  if (!parsed.ok) throw new Error(parsed.reason);
  return mergePolicies(parsed.value);
}

/** `count` archives of cart, one every two hours, the newest an hour old. */
function hourly(count: number, options: { pinned?: number[]; size?: number } = {}): ArchiveRecord[] {
  return Array.from({ length: count }, (_, i) =>
    archiveRecord(cart, {
      timestamp: new Date(NOW - HOUR - (count - 1 - i) * 2 * HOUR).toISOString().replace('.000Z', 'Z'),
      size: options.size ?? 1024,
      pinned: options.pinned?.includes(i) ?? false,
    }),
  );
}

function outlook(records: ArchiveRecord[], policy: RetentionPolicy, fileName: string, pin?: string) {
  const snapshot = inventorySnapshot(records);
  const plan = planRetention({ snapshot, policy, owners: unknownOwners, disk: undefined, nowMs: NOW });
  return retentionOutlook({ snapshot, plan, policy, fileName, nowMs: NOW, pin });
}

describe('what retention would do with one archive', () => {
  it('names the deletion that concerns it, with the planner’s reason and sentence', () => {
    const records = hourly(12);
    const result = outlook(records, mergePolicies([]), records[0]?.fileName ?? '');
    expect(result).toMatchObject({ action: 'delete', reason: 'count', detail: 'container shop-prod/cart-0/cart-api has 12 archives, limit 10 (default)' });
  });

  it('keeps a pinned archive, even one a limit would otherwise take', () => {
    const records = hourly(12, { pinned: [0] });
    const result = outlook(records, mergePolicies([]), records[0]?.fileName ?? '', `${records[0]?.fileName ?? ''}.keep`);
    expect(result).toMatchObject({ action: 'keep', pinned: true });
    expect(result.why).toMatch(/^pinned: no rule deletes it/);
  });

  it('keeps an unidentified archive and a future-dated one, saying why', () => {
    const unidentified = archiveRecord(undefined, { timestamp: '2026-01-01T00:00:00Z', size: 10 });
    expect(outlook([unidentified], mergePolicies([]), unidentified.fileName)).toMatchObject({ action: 'keep', identified: false, why: expect.stringMatching(/^unidentified: never deleted/) });
    const future = archiveRecord(cart, { timestamp: '2026-03-10T15:00:00Z', size: 10 });
    const result = outlook([...hourly(3), future], policyOf('  globalPolicy:\n    maxCheckpointsPerContainer: 1\n'), future.fileName);
    expect(result).toMatchObject({ action: 'keep', futureDated: true });
    expect(result.why).toContain('future-dated: the time in its name is 3h ahead of the clock (tolerance 10m)');
  });

  it('for a kept archive, tells how far each limit is and which would take it first', () => {
    const records = hourly(5, { pinned: [1] });
    const policy = policyOf('  globalPolicy:\n    maxCheckpointsPerContainer: 8\n    maxCheckpointAge: 2d\n    maxTotalSizePerPod: 10Ki\n');
    const third = records[2]?.fileName ?? '';
    const result = outlook(records, policy, third);
    expect(result.action).toBe('keep');
    const byLimit = new Map(result.limits.map((l) => [l.limit, l]));
    // 5 archives, limit 8: three more fill it, then the one unpinned older archive goes, then this one.
    expect(byLimit.get('count')).toMatchObject({ scope: 'container shop-prod/cart-0/cart-api', value: '8', now: '5 archives', archivesLeft: 5, etaMs: 5 * 2 * HOUR });
    // 5 KiB of 10 KiB: 5 KiB more fit, plus the 1 KiB of the older unpinned archive.
    expect(byLimit.get('total_size')).toMatchObject({ scope: 'pod shop-prod/cart-0', value: '10 KiB', now: '5.0 KiB', goes: expect.stringContaining('more than 6.0 KiB') });
    // 5 hours old (1 h + 2 × 2 h), limit 2 days: about 43 h to go.
    expect(byLimit.get('age')).toMatchObject({ value: '2d', now: '5h old', goes: 'in 1d' });
    expect(byLimit.get('orphan')).toMatchObject({ value: 'retainOrphan: true', goes: 'never: kept when its pod is gone' });
    expect(result.next?.limit).toBe('count');
  });

  it('says disk pressure never takes an archive hard-linked elsewhere, and takes one that is not', () => {
    const records = hourly(4);
    const linked = { ...records[0]!, fingerprint: { ...records[0]!.fingerprint, nlink: 2 } };
    const policy = policyOf('  diskPressure:\n    highThresholdPercent: 80\n    lowThresholdPercent: 70\n');
    const pressureOf = (all: ArchiveRecord[], fileName: string) => outlook(all, policy, fileName).limits.find((l) => l.limit === 'disk_pressure');
    expect(pressureOf([linked, ...records.slice(1)], linked.fileName)?.goes).toBe('never while it has other hard links (2 links): deleting it would free no space');
    expect(pressureOf(records, records[0]!.fileName)?.goes).toBe('above 80% used, oldest archives first, until below 70%');
  });

  it('the age limit comes first when it is sooner than the checkpoint rate fills the count', () => {
    const records = hourly(3);
    const policy = policyOf('  globalPolicy:\n    maxCheckpointsPerContainer: 100\n    maxCheckpointAge: 6h\n');
    const result = outlook(records, policy, records[0]?.fileName ?? '');
    expect(result.next).toMatchObject({ limit: 'age', goes: 'in 1h' });
  });
});
