import { afterEach, describe, expect, it, jest } from '@jest/globals';
import { makeTempDir, writeSampleArchive } from '../support/archives.js';
import { serveBinary, type ServedBinary } from '../support/serve-binary.js';
import { waitUntil } from '../support/wait.js';

jest.setTimeout(60_000);

const started: ServedBinary[] = [];
afterEach(async () => {
  await Promise.all(started.splice(0).map((exporter) => exporter.stop()));
});

async function scrape(dir: string, flags: readonly string[]): Promise<string> {
  const exporter = await serveBinary(['--checkpoint-dir', dir, ...flags]);
  started.push(exporter);
  await waitUntil(async () => (await fetch(`${exporter.url}readyz`)).status === 200, 'readiness', 30_000);
  return exporter.metrics();
}

const seriesOf = (text: string, family: string): string[] => text.split('\n').filter((line) => line.startsWith(`${family}{`)).sort();

describe('serve --container-metrics (the built binary)', () => {
  it('all, counts and none (and --no-container-metrics, its alias) carry the per-container series they say', async () => {
    const dir = await makeTempDir();
    try {
      for (let i = 0; i < 6; i++) {
        await writeSampleArchive(dir.dir, { namespace: `team-${i % 2}`, pod: `api-${i}`, container: 'server', timestamp: new Date(Date.UTC(2026, 0, 1, i)), runtime: 'cri-o' });
      }
      const all = await scrape(dir.dir, []);
      expect(seriesOf(all, 'checkpoint_archive_content_bytes')).toHaveLength(6 * 4);
      expect(seriesOf(all, 'checkpoint_namespace_archive_content_bytes')).toHaveLength(0);

      const counts = await scrape(dir.dir, ['--container-metrics=counts']);
      expect(seriesOf(counts, 'checkpoint_archive_content_bytes')).toHaveLength(0);
      expect(seriesOf(counts, 'checkpoint_namespace_archive_content_bytes')).toHaveLength(2 * 4);
      expect(seriesOf(counts, 'checkpoint_archives')).toEqual(seriesOf(all, 'checkpoint_archives'));
      expect(seriesOf(counts, 'checkpoint_archive_bytes')).toEqual(seriesOf(all, 'checkpoint_archive_bytes'));

      for (const flags of [['--container-metrics', 'none'], ['--no-container-metrics']]) {
        const none = await scrape(dir.dir, flags);
        expect(seriesOf(none, 'checkpoint_archives')).toHaveLength(0);
        expect(none).toMatch(/^checkpoint_identified_archives 6$/m);
      }
    } finally {
      await dir.remove();
    }
  });
});
