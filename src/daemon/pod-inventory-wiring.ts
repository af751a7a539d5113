import type { Logger } from 'pino';
import { createInventory, type Inventory } from '../inventory/inventory.js';
import { identifyPodArchiveEntry, POD_ARCHIVE_NAMING } from '../inventory/pod-archive-naming.js';

export interface PodInventoryConfig {
  readonly directory: string;
  readonly settleTimeMs: number;
  readonly resyncIntervalMs: number;
  readonly logger: Logger;
}

/**
 * The inventory of the pod checkpoint directory (KEP-5823): a second instance with the container
 * directory's watch, settle, fingerprint and pin rules, pod archive names, and identities from those
 * names (headers are walked on the main thread for the composition only: a pod writes one archive per
 * checkpoint, not one per container). A missing directory is normal while the kubelet's
 * PodLevelCheckpointRestore gate is off, so it is said at info; an unreadable one is a signal as for
 * the container directory.
 */
export function createPodInventory(config: PodInventoryConfig): Inventory {
  return createInventory({
    directory: config.directory,
    settleTimeMs: config.settleTimeMs,
    resyncIntervalMs: config.resyncIntervalMs,
    identify: identifyPodArchiveEntry,
    naming: POD_ARCHIVE_NAMING,
    missingIsNormal: true,
    logger: config.logger.child({ inventory: 'pod' }),
  });
}
