import { pino } from 'pino';
import { createIdentityReader, IDENTIFY_BATCH_CONCURRENCY } from '../archive/identity-reader.js';
import { createInventory } from '../inventory/inventory.js';
import { identifyPodArchiveEntry, POD_ARCHIVE_NAMING } from '../inventory/pod-archive-naming.js';
import type { InventorySnapshot } from '../inventory/types.js';

/**
 * A one-shot inventory for `ls` and `plan`: one readdir, one lstat per entry, one header read per
 * archive, and no directory watch. They only report, so an archive needs to be unchanged for a
 * moment, not the full settle time a deletion waits for.
 */
const REPORT_SETTLE_TIME_MS = 200;

/** `pod`: the pod checkpoint directory (KEP-5823), its names and its identities from them. */
export async function scanCheckpointDirectory(directory: string, kind: 'container' | 'pod' = 'container'): Promise<InventorySnapshot> {
  const logger = pino({ level: 'silent' });
  const identities = createIdentityReader(logger);
  const inventory = createInventory({
    directory,
    settleTimeMs: REPORT_SETTLE_TIME_MS,
    ...(kind === 'pod'
      ? { identify: identifyPodArchiveEntry, naming: POD_ARCHIVE_NAMING }
      : { identify: (path, name, fingerprint) => identities.read(path, name, fingerprint), identifyConcurrency: identities.threaded ? IDENTIFY_BATCH_CONCURRENCY : undefined }),
    logger,
    watch: false,
  });
  await inventory.start();
  try {
    for (;;) {
      await inventory.idle();
      const snapshot = inventory.snapshot();
      if (!snapshot.directoryPresent || snapshot.initialScanComplete) return snapshot;
      // Archives still being written: the settle timer re-lstats them.
      await new Promise((wake) => setTimeout(wake, REPORT_SETTLE_TIME_MS / 2));
    }
  } finally {
    await inventory.stop();
    await identities.close();
  }
}
