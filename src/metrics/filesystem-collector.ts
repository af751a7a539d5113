import { familyHeader, sampleLine } from './exposition.js';
import type { ExporterView } from './exporter-view.js';

/**
 * statfs of the filesystem holding the checkpoint directory, once per scrape for both families, as
 * exposition text. Rendered from this scrape's own result rather than set on shared gauges, so two
 * scrapes at once never show each other's figures. A failed statfs throws: both families are then
 * absent, never 0, since a zero avail would look like a full disk to the alerts.
 */
export function createFilesystemFamilies(view: Pick<ExporterView, 'diskStats'>): () => Promise<string> {
  return async () => {
    const stats = await view.diskStats();
    return (
      familyHeader('checkpoint_filesystem_size_bytes', 'Size of the filesystem holding the checkpoint directory.', 'gauge') +
      sampleLine('checkpoint_filesystem_size_bytes', [], stats.sizeBytes) +
      familyHeader('checkpoint_filesystem_avail_bytes', 'Bytes available to unprivileged users on the filesystem holding the checkpoint directory.', 'gauge') +
      sampleLine('checkpoint_filesystem_avail_bytes', [], stats.availBytes)
    );
  };
}
