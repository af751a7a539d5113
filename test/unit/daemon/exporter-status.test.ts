import { describe, expect, it } from '@jest/globals';
import { directoryState, isReady } from '../../../src/daemon/exporter-status.js';
import { createArchiveIndex } from '../../../src/inventory/archive-index.js';
import type { InventoryStatus } from '../../../src/inventory/types.js';
import { inventoryStatus } from '../../support/snapshots.js';

const status = (overrides: Partial<InventoryStatus>): InventoryStatus => inventoryStatus(createArchiveIndex(), [], overrides);

describe('readiness and the directory state of the status view', () => {
  it.each<[string, Partial<InventoryStatus>, boolean, string]>([
    ['before the first look at the directory has finished', { directoryPresent: false, directoryReadable: true, initialScanComplete: false, directoryProblem: undefined }, false, 'scanning'],
    ['while the initial scan runs', { directoryPresent: true, initialScanComplete: false }, false, 'scanning'],
    ['once the initial scan is complete', { directoryPresent: true, initialScanComplete: true }, true, 'watching'],
    ['when the directory is missing (nothing to wait for)', { directoryPresent: false, initialScanComplete: true, directoryProblem: 'does not exist' }, true, 'missing'],
    ['when it cannot be watched', { directoryPresent: true, directoryReadable: false, initialScanComplete: true, directoryProblem: 'cannot watch it: EACCES' }, true, 'unreadable'],
    ['when it cannot be listed during the initial scan: still scraped', { directoryPresent: true, directoryReadable: false, initialScanComplete: false, directoryProblem: 'cannot list it: EIO' }, true, 'unreadable'],
  ])('%s', (_case, overrides, ready, state) => {
    expect(isReady(status(overrides))).toBe(ready);
    expect(directoryState(status(overrides))).toBe(state);
  });
});
