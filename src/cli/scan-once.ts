import { pino } from 'pino';
import { createIdentityCache } from '../archive/identity-cache.js';
import { createInventory } from '../inventory/inventory.js';
import type { InventorySnapshot } from '../inventory/types.js';

/**
 * A one-shot inventory for `ls` and `plan`: they only report, so an archive needs to be unchanged
 * for a moment, not the full settle time a deletion waits for.
 */
const REPORT_SETTLE_TIME_MS = 200;

export async function scanCheckpointDirectory(directory: string): Promise<InventorySnapshot> {
  const identityCache = createIdentityCache();
  const inventory = createInventory({
    directory,
    settleTimeMs: REPORT_SETTLE_TIME_MS,
    identify: (path, name, fingerprint) => identityCache.get(path, name, fingerprint),
    logger: pino({ level: 'silent' }),
  });
  await inventory.start();
  try {
    for (;;) {
      await inventory.idle();
      const snapshot = inventory.snapshot();
      if (!snapshot.directoryPresent || snapshot.initialScanComplete) return snapshot;
      await new Promise((wake) => setTimeout(wake, REPORT_SETTLE_TIME_MS / 2));
    }
  } finally {
    await inventory.stop();
  }
}
