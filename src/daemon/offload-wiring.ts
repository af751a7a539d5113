import { hostname } from 'node:os';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { ArchiveIndex } from '../inventory/archive-index.js';
import { createOffloadMetrics } from '../metrics/offload-metrics.js';
import { createOffloadTarget } from '../offload/create-target.js';
import { createOffloader, type Offloader } from '../offload/offloader.js';
import type { OffloadSettings } from '../offload/settings.js';
import type { OffloadComposition } from '../offload/types.js';
import type { PlannedDeletion } from '../retention/types.js';

export interface OffloadWiringDeps {
  readonly settings: OffloadSettings;
  readonly directory: string;
  /** `--node-name`; the host name without it, so keys of two nodes never collide. */
  readonly nodeName: string | undefined;
  readonly registry: Registry;
  readonly index: () => ArchiveIndex;
  readonly logger: Logger;
  readonly now: () => number;
}

/** The composition the inventory read, stored beside the copy so a person can tell what it holds without fetching it. */
function compositionIn(index: ArchiveIndex, deletion: PlannedDeletion): OffloadComposition | undefined {
  const record = deletion.identity
    ? index.ofContainer(deletion.identity.namespace, deletion.identity.pod, deletion.identity.container).find((archive) => archive.fileName === deletion.fileName)
    : index.unidentified.get(deletion.fileName);
  if (record === undefined) return undefined;
  return {
    memoryBytes: record.memoryBytes,
    checkpointOtherBytes: record.checkpointOtherBytes,
    rootfsDiffBytes: record.rootfsDiffBytes,
    otherBytes: record.otherBytes,
    restorable: record.restorable,
    missingEntries: record.missingEntries,
    compression: record.compression,
  };
}

export async function createOffloadWiring(deps: OffloadWiringDeps): Promise<Offloader> {
  const { settings, logger } = deps;
  const target = await createOffloadTarget(settings.target, { s3Endpoint: settings.s3Endpoint, s3Region: settings.s3Region });
  const node = deps.nodeName ?? hostname();
  logger.info({ target: target.description, node, concurrency: settings.concurrency, bandwidthBytesPerSecond: settings.bandwidthBytesPerSecond }, 'offload: archives retention deletes are copied there first');
  return createOffloader({
    directory: deps.directory,
    node,
    target,
    concurrency: settings.concurrency,
    bandwidthBytesPerSecond: settings.bandwidthBytesPerSecond,
    diskPressureDeletesUnoffloaded: settings.diskPressureDeletesUnoffloaded,
    compositionOf: (deletion) => compositionIn(deps.index(), deletion),
    observer: createOffloadMetrics(deps.registry, deps.now),
    logger,
    now: deps.now,
  });
}
