import { describe, expect, it } from '@jest/globals';
import { pino } from 'pino';
import { createRetentionRunner } from '../../../src/daemon/retention-runner.js';
import type { InventorySnapshot } from '../../../src/inventory/types.js';
import { defaultRetentionPolicy } from '../../../src/retention/merge-policies.js';
import type { OwnerLookup, RetentionPlan } from '../../../src/retention/types.js';
import { archiveRecord, inventorySnapshot } from '../../support/snapshots.js';

const web = { namespace: 'default', pod: 'web', container: 'app' };
const unknownOwners: OwnerLookup = () => ({ state: 'unknown', reason: 'test' });

function archives(count: number): InventorySnapshot {
  const records = Array.from({ length: count }, (_, i) =>
    archiveRecord(web, { timestamp: new Date(Date.parse('2026-01-01T00:00:00Z') + i * 3_600_000).toISOString().replace('.000', ''), size: 10 }),
  );
  return inventorySnapshot(records);
}

function runner(opts: { snapshot: () => InventorySnapshot; resolveOwners?: () => Promise<OwnerLookup>; policiesReady?: () => boolean }) {
  const executed: RetentionPlan[] = [];
  const errors: string[] = [];
  const instance = createRetentionRunner({
    snapshot: opts.snapshot,
    policy: () => defaultRetentionPolicy(),
    policiesReady: opts.policiesReady ?? (() => true),
    resolveOwners: opts.resolveOwners ?? (async () => unknownOwners),
    diskStats: async () => ({ sizeBytes: 1e9, freeBytes: 9e8, availBytes: 9e8 }),
    execute: async (plan) => {
      executed.push(plan);
    },
    metrics: { observer: { onDeleted: () => undefined, onError: () => undefined }, recordError: (op) => errors.push(op) },
    logger: pino({ level: 'silent' }),
    now: () => Date.parse('2026-02-01T00:00:00Z'),
  });
  return { instance, executed, errors };
}

describe('retention runner', () => {
  it('plans on the directory as it is after the owner lookups, not before', async () => {
    // 12 archives when the run starts (2 over the default limit); someone removes 4 while owners are looked up.
    let current = archives(12);
    const { instance, executed } = runner({
      snapshot: () => current,
      resolveOwners: async () => {
        current = inventorySnapshot(current.archives.slice(4));
        return unknownOwners;
      },
    });
    await instance.trigger();
    expect(executed).toHaveLength(1);
    expect(executed[0]!.deletions).toEqual([]);
  });

  it('does not plan until the policy sources are ready, then does', async () => {
    let ready = false;
    const { instance, executed } = runner({ snapshot: () => archives(12), policiesReady: () => ready });
    await instance.trigger();
    expect(executed).toHaveLength(0);
    expect(instance.lastRunMs()).toBeUndefined();
    ready = true;
    await instance.trigger();
    expect(executed).toHaveLength(1);
    expect(executed[0]!.deletions).toHaveLength(2);
  });

  it('does not plan on an incomplete initial scan', async () => {
    const { instance, executed } = runner({ snapshot: () => ({ ...archives(12), initialScanComplete: false }) });
    await instance.trigger();
    expect(executed).toHaveLength(0);
  });

  it('coalesces triggers that arrive during a run into one more run', async () => {
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let lookups = 0;
    const { instance, executed } = runner({
      snapshot: () => archives(3),
      resolveOwners: async () => {
        lookups += 1;
        if (lookups === 1) await gate;
        return unknownOwners;
      },
    });
    const first = instance.trigger();
    void instance.trigger();
    void instance.trigger();
    release();
    await first;
    expect(executed).toHaveLength(2);
  });

  it('counts a failed owner lookup as a planning error and deletes nothing', async () => {
    const { instance, executed, errors } = runner({ snapshot: () => archives(12), resolveOwners: () => Promise.reject(new Error('boom')) });
    await instance.trigger();
    expect(executed).toHaveLength(0);
    expect(errors).toEqual(['plan']);
  });

  it('counts a run on a missing directory as completed and empty', async () => {
    const { instance, executed } = runner({ snapshot: () => ({ ...inventorySnapshot([]), directoryPresent: false }) });
    await instance.trigger();
    expect(executed).toHaveLength(0);
    expect(instance.lastRunMs()).toBe(Date.parse('2026-02-01T00:00:00Z'));
    expect(instance.lastPlan()?.deletions).toEqual([]);
  });
});
